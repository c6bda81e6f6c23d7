"""What every answer of the API shares: the base model, times, pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, WithJsonSchema

WireTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""An ISO 8601 time with its zone, kept as the server wrote it (so what a client prints
is what the server said, to the digit)."""


class Wire(BaseModel):
    """An answer of the API: fields are the wire names (camelCase, one name, no alias
    tables); fields a newer server adds are kept (``extra="allow"``), so an older client
    still reads its answers."""

    model_config = ConfigDict(extra="allow")

    def as_json(self) -> dict[str, Any]:
        """The answer as the API's JSON: the fields the server sent (and only those)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    has_more: bool
