"""What every answer of the API shares: the base model, times, pages."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    model_validator,
)

WireTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""An ISO 8601 time with its zone, kept as the server wrote it (so what a client prints
is what the server said, to the digit)."""


class Wire(BaseModel):
    """An answer of the API: fields are the wire names (camelCase, one name, no alias
    tables); fields a newer server adds are kept (``extra="allow"``), so an older client
    still reads its answers."""

    model_config = ConfigDict(extra="allow")

    _keys: tuple[str, ...] = PrivateAttr(default=())
    """The keys of the JSON object it was read from, in their order."""

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        model = handler(data)
        if isinstance(data, dict) and isinstance(model, Wire):
            model._keys = tuple(data)
        return model

    def as_json(self) -> dict[str, Any]:
        """The answer as the API's JSON: the fields the server sent (and only those), in
        its order, so ``--json`` prints what the server said."""
        dumped = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        ordered: dict[str, Any] = _in_order(self, dumped)
        return ordered


@cache
def _wire_names(model: type[Wire]) -> dict[str, str]:
    # Wire name -> field name (they differ only for an alias such as ``from``).
    return {info.alias or name: name for name, info in model.model_fields.items()}


def _in_order(value: Any, dumped: Any) -> Any:
    # ``dumped`` (the JSON of ``value``) with every object's keys in the order they came.
    if isinstance(value, Wire) and isinstance(dumped, dict):
        names = _wire_names(type(value))
        extra = value.model_extra or {}
        came = value._keys
        keys = [k for k in came if k in dumped] + [k for k in dumped if k not in came]
        return {
            k: _in_order(getattr(value, names[k]) if k in names else extra.get(k), dumped[k])
            for k in keys
        }
    if isinstance(value, dict) and isinstance(dumped, dict):
        return {k: _in_order(value.get(k), v) for k, v in dumped.items()}
    if isinstance(value, list | tuple) and isinstance(dumped, list):
        return [_in_order(v, d) for v, d in zip(value, dumped, strict=False)]
    return dumped


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    has_more: bool
