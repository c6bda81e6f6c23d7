"""A schedule: when to start runs of one workflow, and what to do about late or busy fires.

Snake_case is canonical (workflow files, export); camelCase is accepted and is what the
API answers.  Fire-time arithmetic lives in :mod:`orchestrator.engine.fires`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from orchestrator.spec.model.base import ID_PATTERN, _cron, _duration, _Model

Catchup = Literal["none", "latest", "all"]
Overlap = Literal["skip", "allow", "cancel_previous", "buffer_one"]
CATCHUPS: tuple[str, ...] = ("none", "latest", "all")
OVERLAPS: tuple[str, ...] = ("skip", "allow", "cancel_previous", "buffer_one")


class FireOutcome(StrEnum):
    """What became of one fire of a schedule (its own vocabulary, not a run's status)."""

    STARTED = "started"
    SKIPPED_OVERLAP = "skipped_overlap"
    """The previous run was still active and ``overlap`` is ``skip``."""
    BUFFERED = "buffered"
    """Held until the previous run ends (``overlap: buffer_one``)."""
    MISSED = "missed"
    """Fell due during an outage and ``catchup`` dropped it."""
    FAILED = "failed"
    """The run could not be started (the workflow or its parameters are wrong)."""
    DEFERRED = "deferred"
    """Refused for room (``max_concurrent_runs``, a full queue): held and retried with
    backoff until the schedule's next fire or the end of its ``catchup_window``."""
    SKIPPED_LIMIT = "skipped_limit"
    """Still refused for room when the next fire came or the catch-up window ended (at
    once with ``catchup: none``): not started; ``reason`` says which limit."""
    TRIGGERED = "triggered"
    """Fired by hand (``dagq schedules trigger``)."""


class BackfillState(StrEnum):
    """Where a backfill stands (its own vocabulary, not a run's status)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    """A fire could not be started: the backfill stopped there (see its ``error``).  A fire
    refused for room (``max_concurrent_runs``) does not fail it: it waits for the next pass."""


ScheduleId = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
Duration = Annotated[float, BeforeValidator(_duration)]


def _zone(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 64 or ".." in value:
        raise PydanticCustomError(
            "bad_timezone", "a time zone is an IANA name such as Europe/Berlin"
        )
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "bad_timezone",
            "unknown time zone '{value}': use an IANA name such as Europe/Berlin or UTC",
            {"value": value},
        ) from None
    return value


def _aware(value: object) -> object:
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise PydanticCustomError(
                "bad_time", "'{value}' is not an ISO 8601 time", {"value": text[:64]}
            ) from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise PydanticCustomError(
            "bad_time", "a time needs a zone offset, e.g. 2026-01-01T00:00:00Z", {}
        )
    return value


Moment = Annotated[datetime, BeforeValidator(_aware)]


class ScheduleSpec(_Model):
    """What a user declares about a schedule."""

    id: ScheduleId
    workflow_id: ScheduleId
    cron: Annotated[str, BeforeValidator(_cron)] | None = None
    """Five fields (minute hour day month weekday), read in ``timezone``."""
    timezone: Annotated[str, BeforeValidator(_zone)] = "UTC"
    every: Duration | None = Field(default=None, description="A fixed interval, at least 1s")
    params: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, description="Pinned version (None: newest)")
    start_at: Moment | None = None
    end_at: Moment | None = None
    jitter: Duration = 0.0
    """Each fire starts up to this much later (a fixed delay per fire time)."""
    catchup: Catchup = "latest"
    catchup_window: Duration = 3600.0
    overlap: Overlap = "skip"
    description: str = Field(default="", max_length=1024)

    @field_validator("every")
    @classmethod
    def _every_min(cls, value: float | None) -> float | None:
        if value is not None and value < 1.0:
            raise PydanticCustomError("bad_duration", "every must be at least 1s", {})
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        if (self.cron is None) == (self.every is None):
            raise PydanticCustomError(
                "schedule_kind", "give exactly one of cron (with timezone) or every", {}
            )
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise PydanticCustomError("bad_time", "end_at must be after start_at", {})
        if self.jitter < 0 or (self.every is not None and self.jitter >= self.every):
            raise PydanticCustomError(
                "bad_duration", "jitter must be at least 0 and shorter than the interval", {}
            )
        return self

    def to_api(self) -> dict[str, Any]:
        """camelCase JSON, times as ISO 8601."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_file(self) -> dict[str, Any]:
        """snake_case JSON as a workflow file's ``schedules:`` holds it (no workflow id)."""
        data = self.model_dump(mode="json", exclude_none=True)
        data.pop("workflow_id", None)
        return data


def parse_schedules(workflow_id: str, items: object) -> list[ScheduleSpec]:
    """A workflow file's ``schedules:`` list as specs of that workflow (ValueError if bad)."""
    if not isinstance(items, list):
        raise ValueError("schedules must be a list of schedules")
    out: list[ScheduleSpec] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each schedule is a mapping with an id and cron or every")
        out.append(ScheduleSpec.model_validate({**item, "workflow_id": workflow_id}))
    return out
