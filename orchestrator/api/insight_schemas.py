"""Request and response models of the run-insight routes: replay, Gantt, diff, stats.

Kept apart from :mod:`orchestrator.api.schemas` (same conventions: wire names,
``_In`` forbids unknown query fields, ``_Out`` allows extra fields).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


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


class ReplayAt(_Out):
    """Every node's status at one moment of a run, rebuilt from its events."""

    runId: str
    at: float
    """Seconds after the run's start."""
    event: int
    """Events applied (0: before the first)."""
    events: int
    time: str
    nodes: dict[str, str]
    exact: bool
    """Every event was reproduced by the engine's transitions."""
    completeFrom: str | None = None
    """Time of the oldest retained event: history is complete from there."""
    note: str | None = None
    status: str | None = None
    lastEvent: dict[str, Any] | None = None


class ReplayStep(_Out):
    """One recorded event and the nodes it changed."""

    id: str
    type: str
    nodeId: str | None = None
    time: str
    offsetMs: int
    data: dict[str, Any] = Field(default_factory=dict)
    runStatus: str | None = None
    nodes: dict[str, dict[str, Any]]


class ReplayFrames(_Out):
    """A run's whole replay, step by step."""

    runId: str
    workflowId: str
    workflowVersion: int
    startTime: str
    initial: dict[str, str]
    steps: list[ReplayStep]
    exact: bool
    exactUntil: int
    complete: bool
    completeFrom: str | None = None
    note: str | None = None


class GanttBar(_Out):
    """One node attempt (ms after the run's start)."""

    node: str
    kind: str
    epoch: int
    attempt: int
    queued_ms: int | None = None
    started_ms: int | None = None
    ended_ms: int | None = None
    backoff_until_ms: int | None = None
    outcome: str
    worker: str | None = None
    critical: bool


class Gantt(_Out):
    """Node attempts on a time axis and the critical path."""

    runId: str
    workflowId: str
    workflowVersion: int
    status: str
    duration_ms: int
    finished: bool
    complete: bool
    critical_path: list[str]
    critical: dict[str, Any]
    nodes: list[GanttBar]
    skipped: list[dict[str, Any]]


class RunDiff(_Out):
    """Two runs of one workflow side by side."""

    workflow: str
    runs: list[str]
    versions: list[int]
    versions_differ: bool
    version_diff: dict[str, str]
    branches: list[dict[str, Any]]
    outputs: dict[str, list[dict[str, Any]]]
    durations: list[dict[str, Any]]


class NodeStats(_Out):
    """Durations of one node over many runs (ms)."""

    runs: int
    p50_ms: int
    p95_ms: int
    max_ms: int
    exec_p50_ms: int | None = None
    """Time executing (queue waits and backoff left out)."""
    exec_p95_ms: int | None = None


class WorkflowStats(_Out):
    """Per-node duration percentiles over a workflow's recent finished runs."""

    workflowId: str
    runs: int
    runIds: list[str]
    nodes: dict[str, NodeStats]
