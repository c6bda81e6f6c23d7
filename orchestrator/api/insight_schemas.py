"""Request and response models of the run-insight routes: replay, Gantt, diff, stats.

Kept apart from :mod:`orchestrator.api.schemas` (same conventions: wire names,
``_In`` forbids unknown query fields, ``_Out`` allows extra fields).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.wire.ops import Gantt as Gantt
from orchestrator.wire.ops import GanttBar as GanttBar
from orchestrator.wire.ops import NodeStats as NodeStats
from orchestrator.wire.ops import ReplayAt as ReplayAt
from orchestrator.wire.ops import ReplayFrames as ReplayFrames
from orchestrator.wire.ops import ReplayStep as ReplayStep
from orchestrator.wire.ops import RunDiff as RunDiff
from orchestrator.wire.ops import WorkflowStats as WorkflowStats


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplayQuery(_In):
    """``at``: seconds after the run's start; ``event``: after that many events (1-based)."""

    at: float | None = Field(default=None, ge=0, le=10**9, allow_inf_nan=False)
    event: int | None = Field(default=None, ge=0, le=10**9)


class DiffQuery(_In):
    """The run to compare with."""

    other: str = Field(min_length=1, max_length=128)


class StatsQuery(_In):
    """How many of the workflow's most recent finished runs to read."""

    last: int = Field(default=20, ge=1, le=200)
