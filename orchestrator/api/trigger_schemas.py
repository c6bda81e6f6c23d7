"""Request and response models of schedules, backfills and webhooks (see ``schemas.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.schemas import IsoTime
from orchestrator.spec.model import ID_PATTERN, MAX_EXPRESSION_LENGTH
from orchestrator.spec.schedule import ScheduleId, ScheduleSpec
from orchestrator.wire.triggers import BackfillView as BackfillView
from orchestrator.wire.triggers import Hook as Hook
from orchestrator.wire.triggers import HookAccepted as HookAccepted
from orchestrator.wire.triggers import HookList as HookList
from orchestrator.wire.triggers import HookSecret as HookSecret
from orchestrator.wire.triggers import Outcome as Outcome
from orchestrator.wire.triggers import ScheduleList as ScheduleList
from orchestrator.wire.triggers import ScheduleView as ScheduleView

__all__ = [
    "BackfillRequest",
    "BackfillView",
    "Hook",
    "HookAccepted",
    "HookCreate",
    "HookList",
    "HookSecret",
    "Outcome",
    "PauseNote",
    "ScheduleList",
    "ScheduleListQuery",
    "ScheduleSpec",
    "ScheduleUpdate",
    "ScheduleView",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleUpdate(ScheduleSpec):
    """Body of ``PUT /schedules/{id}``: a whole schedule; ``id`` may be left out."""

    id: ScheduleId | None = None  # type: ignore[assignment]


class ScheduleListQuery(_In):
    """Filter of ``GET /schedules``."""

    workflowId: str | None = Field(default=None, max_length=128, pattern=ID_PATTERN)


class PauseNote(_In):
    """Body of pause and resume."""

    note: str = Field(default="", max_length=1024)


class BackfillRequest(_In):
    """Body of ``POST /schedules/{id}/backfill``."""

    from_: IsoTime = Field(alias="from", description="First fire time included")
    to: IsoTime = Field(description="Last fire time included (not after now)")
    maxParallel: int = Field(default=1, ge=1, le=1000, description="Runs active at once")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HookCreate(_In):
    """Body of ``POST /hooks``."""

    workflowId: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    map: dict[str, str] = Field(
        default_factory=dict,
        max_length=100,
        description="Run parameter -> expression over `body` (the JSON posted); without a "
        "map the body's fields are the parameters",
    )
    version: int | None = Field(default=None, ge=1)
    description: str = Field(default="", max_length=1024)

    def expressions(self) -> dict[str, str]:
        """The map, each expression bounded in length."""
        return {k: v[:MAX_EXPRESSION_LENGTH] for k, v in self.map.items()}
