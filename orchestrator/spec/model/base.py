"""The spec's building blocks: field types, their validators and the node base class.

Each field type fails with a pydantic error whose ``type`` is one of the validator's codes
in lower case (``bad_duration``, ``bad_cron``, ``bad_size``, ``bad_pattern``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from orchestrator.durations import DurationError, format_duration, parse_duration
from orchestrator.sizes import SizeError, compact_bytes, parse_bytes
from orchestrator.spec.patterns import PatternError, compile_pattern

ID_PATTERN = r"^[A-Za-z0-9_-]+$"
HANDLER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:-]*$"
MAX_EXPRESSION_LENGTH = 1024


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise PydanticCustomError("bad_duration", str(exc)) from None


def _cron(value: object) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("bad_cron", "a cron expression must be a string of 5 fields")
    text = " ".join(value.split())
    if len(text.split(" ")) != 5:
        raise PydanticCustomError(
            "bad_cron",
            "cron expression '{value}' must have 5 fields: minute hour day month weekday",
            {"value": value},
        )
    try:
        CronSim(text, datetime(2000, 1, 1))  # noqa: DTZ001 - only checks the syntax
    except (CronSimError, ValueError) as exc:
        raise PydanticCustomError(
            "bad_cron",
            "cron expression '{value}' is invalid: {why}",
            {"value": value, "why": str(exc)},
        ) from None
    return text


def _pattern(value: object) -> object:
    if isinstance(value, str):
        try:
            compile_pattern(value)
        except PatternError as exc:
            raise PydanticCustomError(
                "bad_pattern",
                "pattern {value} cannot be used: {why}",
                {"value": repr(value[:80]), "why": str(exc)},
            ) from None
    return value


def _positive_timeout(value: float) -> float:
    # Temporal and Conductor read 0 as "no timeout"; the upstream schema (minimum: 1) and
    # Airflow refuse it.  A zero typed by mistake must not silently unbound a task.
    if value <= 0:
        raise PydanticCustomError(
            "bad_duration",
            "a timeout must be more than 0 (got {got}); leave it out to use the default "
            "(workflow.execution.default_timeout), or give a long one such as 24h: "
            "dagq has no unlimited timeout",
            {"got": format_duration(value)},
        )
    return value


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json-unless-none"),
]


def _size(value: object) -> int:
    try:
        return parse_bytes(value)
    except SizeError as exc:
        raise PydanticCustomError("bad_size", "{why}", {"why": str(exc)}) from None


ByteSize = Annotated[
    int,
    BeforeValidator(_size),
    PlainSerializer(compact_bytes, return_type=str, when_used="json-unless-none"),
]
"""A size in bytes, written ``512MiB``, ``4GiB``, ``300MB`` or as a number of bytes."""
Timeout = Annotated[Duration, AfterValidator(_positive_timeout)]
"""A task attempt's timeout: a duration above zero."""
Cron = Annotated[str, BeforeValidator(_cron)]
NodeId = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
HandlerName = Annotated[str, Field(min_length=1, max_length=128, pattern=HANDLER_PATTERN)]
Expression = Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION_LENGTH)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=False,
    )


class Position(_Model):
    """Where the designer drew a node on its canvas (cells)."""

    x: float = Field(ge=0, le=100_000)
    y: float = Field(ge=0, le=100_000)


class RetryPolicy(_Model):
    """Delay between attempts of a task; unset fields take the configured defaults."""

    backoff: Literal["fixed", "linear", "exponential"] = "exponential"
    initial_interval: Duration = 1.0
    max_interval: Duration = 60.0
    multiplier: float = Field(default=2.0, ge=1.0, le=100.0)
    jitter: bool = False

    @model_validator(mode="before")
    @classmethod
    def _accept_reference_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" in data and "backoff" not in data:
            data = dict(data)
            data["backoff"] = data.pop("type")
        return data


class Resources(_Model):
    """What one attempt of a task needs from its worker (the design's ResourceLimits).

    A worker runs the attempt only while the request fits in what it has free; run
    isolated (in a child process), ``memory`` is also the attempt's hard memory limit.
    """

    memory: ByteSize | None = Field(default=None, ge=1024**2)
    """Memory, at least 1 MiB."""
    cpu: float | None = Field(default=None, gt=0, le=1024)
    """CPU cores (fractions allowed: 0.5)."""


class _NodeBase(_Model):
    id: NodeId
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    position: Position | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_is_not_the_id(cls, name: str | None, info: ValidationInfo) -> str | None:
        # A name equal to the id shows the same; the API writes one for every node (the
        # reference requires it), and reading that back must not make the spec differ.
        return None if name == info.data.get("id") else name

    @property
    def label(self) -> str:
        """The name shown on the canvas: ``name`` when set, else the id."""
        return self.name or self.id
