"""Answers of the trigger, job and template routes: schedules, backfills, webhooks;
plain jobs and chains; templates.

Like :mod:`orchestrator.wire.runs`: the API's response models, re-exported by its
``*_schemas`` modules, and what the client parses their answers with.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from orchestrator.spec.schedule import BackfillState, FireOutcome, ScheduleSpec
from orchestrator.vocab import RunStatus
from orchestrator.wire.base import Wire
from orchestrator.wire.runs import NodeStatusView


class Outcome(Wire):
    """What happened to one fire."""

    fire: str
    status: FireOutcome
    at: int
    runId: str | None = None
    runStatus: str | None = None
    error: str | None = None
    count: int | None = None
    reason: str | None = Field(
        default=None,
        description="Why a fire waits or was skipped for room: `max concurrent runs` or "
        "`queue full` (outcomes `deferred`, `skipped_limit`)",
    )
    tries: int | None = Field(default=None, description="Starts tried for a fire held for room")
    retryAt: str | None = Field(default=None, description="A deferred fire's next try")


class ScheduleView(ScheduleSpec, Wire):
    """A schedule with its state."""

    model_config = ConfigDict(extra="allow")

    paused: bool
    note: str | None = None
    nextFireTime: str | None
    nextFires: list[str] = Field(default_factory=list)
    lastOutcome: Outcome | None
    outcomes: list[Outcome] = Field(default_factory=list)
    ended: bool


class ScheduleList(Wire):
    """Every schedule."""

    schedules: list[ScheduleView]


class BackfillView(Wire):
    """A backfill's progress."""

    scheduleId: str
    from_: str = Field(alias="from")
    to: str
    maxParallel: int
    total: int
    started: int
    created: int
    active: list[str]
    state: BackfillState
    requestedBy: str | None = None
    error: str | None = None
    waitingFor: str | None = Field(
        default=None, description="Why its last step started nothing (no room: it goes on)"
    )


class Hook(Wire):
    """A webhook (its secret is shown once, when created or rotated)."""

    id: str
    workflowId: str
    url: str
    map: dict[str, str]
    version: int | None = None
    description: str = ""
    createdBy: str | None = None


class HookSecret(Hook):
    """A new webhook or a rotated secret."""

    secret: str


class HookList(Wire):
    """Every webhook."""

    hooks: list[Hook]


class HookAccepted(Wire):
    """A delivery that started (or, repeated, found) a run."""

    runId: str
    workflowId: str
    status: str
    created: bool


class Promoted(Wire):
    """The workflow behind a job, as an ordinary workflow (not stored)."""

    workflow: dict[str, Any]


class JobStep(NodeStatusView):
    """One handler of a job: its node's view."""

    handler: str
    deadLetter: dict[str, Any] | None = Field(default=None, description="Its dead letter, if any")


class Job(Wire):
    """A job or chain: its status, payload, result, and each handler's step."""

    id: str
    kind: str
    handler: str | None = None
    handlers: list[str]
    status: RunStatus
    payload: dict[str, Any]
    createdAt: str | None = None
    attempts: int
    steps: list[JobStep]
    result: dict[str, Any] | None = None
    error: str | None = None
    runAt: str | None = None
    priority: int | None = None
    endTime: str | None = None
    run: dict[str, Any] = Field(description="The run behind the job (as GET /runs/{id})")


class JobRow(Wire):
    """One row of the job list."""

    id: str
    kind: str
    handlers: list[str]
    status: RunStatus
    createdAt: str | None = None
    endTime: str | None = None
    error: str | None = None


class JobList(Wire):
    """A page of jobs, newest first."""

    jobs: list[JobRow]
    total: int
    hasMore: bool


class TemplateRow(Wire):
    """One row of the template list."""

    id: str
    name: str
    version: int
    parameters: list[str]


class TemplateList(Wire):
    """Every template, most recently updated first."""

    templates: list[TemplateRow]


class TemplateVersion(Wire):
    """One immutable version of a template."""

    version: int
    templateId: str
    createdAt: str
    template: dict[str, Any] | None = None
    createdBy: str | None = None
    changeLog: str | None = None
    outcome: str | None = Field(
        default=None, description="A write's outcome: created, updated or unchanged"
    )


class TemplateVersionList(Wire):
    """A template's versions, newest first."""

    versions: list[TemplateVersion]


class TemplateDiff(Wire):
    """What changed between two versions."""

    templateId: str
    parameters: dict[str, list[str]]
    fields: list[str]
    nodes: dict[str, str]


class Instantiated(Wire):
    """The workflow (and schedules) a template made."""

    template: dict[str, Any]
    workflow: dict[str, Any]
    schedules: list[dict[str, Any]]
    saved: bool
