"""Request and response models of the HTTP API.

Request models are what the middleware validates query strings and bodies with (a
failure is a 400 naming every bad field).  Response models describe what handlers
return; handlers build plain dicts (the stores' ``to_api()`` views) for speed, and
the OpenAPI document is generated from these models, so the schemathesis test
checking every response against its schema keeps the two honest.

Field names are the wire names (camelCase) on purpose: one name, no alias tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from orchestrator.spec.model import ID_PATTERN, WorkflowSpec
from orchestrator.vocab import AuditOutcome, NodeStatus, RunStatus

MAX_ID_PART = 2**64 - 1


def _fits_64_bits(value: str) -> str:
    ms, _, seq = value.partition("-")
    if int(ms) > MAX_ID_PART or int(seq or 0) > MAX_ID_PART:
        raise ValueError("both parts of a stream id must fit in 64 bits")
    return value


StreamId = Annotated[
    str,
    Field(pattern=r"^\d{1,20}(-\d{1,20})?$", max_length=41),
    AfterValidator(_fits_64_bits),
]


def _iso_time(value: object) -> object:
    # pydantic would read "0.5" as a Unix timestamp; the documented form is ISO 8601 only.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise ValueError("expected an ISO 8601 time with a zone, e.g. 2025-01-31T12:00:00Z")


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_time)]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
NodeRef = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Body(BaseModel):
    # Strict: a JSON body has real types, so ``false`` is not a shard and "5" not a priority.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- query strings ----------------------------------------------------------------------


class WorkflowListQuery(_In):
    """Filters and paging of ``GET /workflows``."""

    name: str | None = Field(default=None, max_length=256, description="Substring of name or id")
    status: Literal["draft", "published", "deprecated"] | None = None
    tag: list[Tag] = Field(default_factory=list, max_length=10, description="All must be present")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class DeleteQuery(_In):
    """``DELETE /workflows/{id}``: ``force`` also cancels the workflow's active runs."""

    force: bool = False


class SpecWriteQuery(_In):
    """Options of a spec write (update, new version)."""

    changeLog: str | None = Field(default=None, max_length=200)
    expectedVersion: int | None = Field(
        default=None, ge=1, description="Refuse (409) unless this is the current version"
    )


class VersionListQuery(_In):
    """Paging of ``GET /workflows/{id}/versions`` (newest first)."""

    limit: int = Field(default=10, ge=1, le=100)


class RunListQuery(_In):
    """Filters and paging of run listings."""

    status: RunStatus | None = None
    startTime: IsoTime | None = Field(
        default=None, description="Runs started at or after this ISO 8601 time (with a zone)"
    )
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class AllRunsQuery(RunListQuery):
    """``GET /runs`` may also narrow to one workflow (even a deleted one)."""

    workflowId: str | None = Field(default=None, min_length=1, max_length=128)


class EventsQuery(_In):
    """``since``: a stream id (exclusive) or an ISO 8601 time (inclusive)."""

    since: str | None = Field(
        default=None,
        max_length=64,
        description="An event id (events after it) or an ISO 8601 time with a zone "
        "(events recorded at or after it)",
    )
    limit: int = Field(default=1000, ge=1, le=10_000)


class AuditQuery(_In):
    """Filters and paging of the audit log (newest first)."""

    since: StreamId | None = None
    before: StreamId | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    user: str | None = Field(default=None, max_length=128)
    outcome: AuditOutcome | None = None


class StrangersQuery(_In):
    """How far back to look at refused unauthenticated requests."""

    minutes: int = Field(default=60, ge=1, le=1440)


class DeadLetterQuery(_In):
    """Which dead letters to list."""

    limit: int = Field(default=100, ge=1, le=1000)
    shard: int | None = Field(default=None, ge=0, le=1023)


# --- bodies -----------------------------------------------------------------------------


class RunParameters(_Body):
    """Body of ``POST /workflows/{id}/runs``."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=0, le=10)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, description="Pinned version (default: current)")


class RetryOptions(_Body):
    """Body of ``POST /runs/{id}/retry``."""

    fromNode: NodeRef | None = Field(default=None, description="Retry from this node onwards")
    onlyNode: bool = Field(default=False, description="Rerun only fromNode, then continue")
    skipNodes: list[NodeRef] = Field(
        default_factory=list,
        max_length=500,
        description="Tasks or delays not to run again: skipped, their successors go on",
    )
    parameters: dict[str, Any] | None = Field(
        default=None, description="Parameters to change for the retry (merged over the run's)"
    )


class DeadLetterIds(_Body):
    """Which dead letters to requeue or purge."""

    ids: list[StreamId] = Field(min_length=1, max_length=1000)
    shard: int | None = Field(default=None, ge=0, le=1023)


class SpecDraft(BaseModel):
    """Any JSON object, judged as a workflow spec: the answer lists every problem found."""

    model_config = ConfigDict(extra="allow")


# --- responses --------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    """Every error: a stable code, a sentence, and details (``errors`` for invalid specs)."""

    error: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class WorkflowSummary(_Out):
    """One row of the workflow list."""

    id: str
    name: str
    description: str = ""
    status: Literal["draft", "published", "deprecated"]
    version: int
    nodeCount: int
    edgeCount: int
    tags: list[str] = Field(default_factory=list)
    createdAt: datetime
    updatedAt: datetime


class WorkflowList(_Out):
    """A page of workflows."""

    workflows: list[WorkflowSummary]
    total: int
    hasMore: bool


class Workflow(WorkflowSpec):
    """A stored workflow: its current spec (snake_case, as exported) plus record fields."""

    model_config = ConfigDict(extra="allow")

    status: Literal["draft", "published", "deprecated"]
    createdAt: datetime
    updatedAt: datetime
    createdBy: str | None = None
    updatedBy: str | None = None


class WorkflowVersion(_Out):
    """One immutable version."""

    version: int
    workflowId: str
    spec: WorkflowSpec
    createdAt: datetime
    createdBy: str | None = None
    changeLog: str = Field(default="", description="Empty when none was given")


class VersionList(_Out):
    """Versions, newest first."""

    versions: list[WorkflowVersion]
    total: int


class ValidationIssue(_Out):
    """One problem the validator found."""

    code: str
    message: str
    nodeId: str | None = None
    edgeId: str | None = None
    path: str | None = None
    suggestion: str | None = None


class ValidationResult(_Out):
    """The validator's verdict; ``valid`` when there are no errors."""

    valid: bool
    errors: list[ValidationIssue]
    warnings: list[ValidationIssue]


class NodeStatusView(_Out):
    """One node of a run."""

    nodeId: str
    status: NodeStatus
    attempts: int
    nodeName: str | None = None
    startTime: datetime | None = None
    endTime: datetime | None = None
    dueTime: datetime | None = None
    duration: int | None = None
    lastError: str | None = None
    error: str | None = Field(
        default=None, description="The reference's name of lastError, when the node failed"
    )
    worker: str | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    takenEdges: list[str] | None = None
    waitingFor: str | None = Field(default=None, description="Why a queued node is not running")


class WorkflowRun(_Out):
    """A run: the design's Runtime State Model."""

    id: str
    runId: str
    workflowId: str
    workflowVersion: int
    status: RunStatus
    startTime: datetime
    endTime: datetime | None = None
    duration: int | None = None
    nodes: dict[str, NodeStatusView]
    nodeStatuses: dict[str, NodeStatusView] = Field(
        default_factory=dict, description="The reference's name of nodes (the same objects)"
    )
    context: dict[str, Any]
    parameters: dict[str, Any]
    priority: int
    error: str | None = None
    errorNode: str | None = None
    output: dict[str, Any] | None = None
    retries: int | None = None
    metadata: dict[str, Any] | None = None
    warnings: list[str] | None = None


class WorkflowRunSummary(_Out):
    """One row of a run listing."""

    id: str
    runId: str
    workflowId: str
    workflowVersion: int
    status: RunStatus
    startTime: datetime
    endTime: datetime | None = None
    duration: int | None = None
    error: str | None = None
    workflowName: str | None = Field(default=None, description="Absent once it was deleted")
    completedNodes: int | None = Field(default=None, description="Nodes that completed")
    totalNodes: int | None = None


class RunList(_Out):
    """A page of runs, newest first."""

    runs: list[WorkflowRunSummary]
    total: int
    hasMore: bool


class NodeList(_Out):
    """Every node of a run."""

    nodes: list[NodeStatusView]


class RunEvent(_Out):
    """One event of a run (``id`` is its stream id: pass it back as ``since``)."""

    id: str
    timestamp: datetime
    type: str
    runId: str
    nodeId: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class EventList(_Out):
    """Events oldest first."""

    events: list[RunEvent]
    lastEventId: str | None = None


class AuditEntry(_Out):
    """One audited request."""

    id: str
    time: str
    user: str | None = None
    role: str | None = None
    action: str
    resource: str
    outcome: str
    requestId: str
    status: int | None = None
    detail: str | None = None
    source: Literal["api", "cli", "file"] = "api"
    """Where the change was made: an API request, a ``dagq`` command, a policies-file edit."""


class AuditList(_Out):
    """Audit entries, newest first."""

    entries: list[AuditEntry]


class StrangerAddress(_Out):
    """One address's refused unauthenticated requests in a minute."""

    address: str
    count: int


class StrangerMinute(_Out):
    """Refused unauthenticated requests in one minute."""

    minute: datetime
    total: int
    addresses: list[StrangerAddress]
    """The busiest addresses, most requests first."""
    others: int
    """Requests from addresses past the list."""


class StrangerList(_Out):
    """Minutes that saw refused unauthenticated requests, newest first."""

    minutes: list[StrangerMinute]


class PolicyStatus(_Out):
    """The policy in force and the latest reload attempt."""

    policiesDir: str
    loadedAt: datetime
    lastReloadAt: datetime | None = None
    lastError: str | None = None
    lastErrorAt: datetime | None = None
    inError: bool
    policyLines: int
    roles: list[str]
    usersFileError: str | None = None


class ApiKeyInfo(_Out):
    """A key's public id (never the secret or its hash)."""

    id: str
    created: datetime


class UserInfo(_Out):
    """A user as admins see it."""

    name: str
    role: str
    policyRole: str | None = Field(description="The role policy.csv gives (the one enforced)")
    keys: list[ApiKeyInfo]
    hasPassword: bool
    disabled: bool
    created: datetime
    updated: datetime


class UserList(_Out):
    """Every user."""

    users: list[UserInfo]


class LaneDepth(_Out):
    """One job stream's backlog."""

    length: int
    pending: int
    waiting: int
    lag: int | None = None


class ShardDepth(_Out):
    """A shard's inbox, timers and dead letters."""

    shard: int
    inbox: int
    timers: int
    dlq: int


class WorkerView(_Out):
    """A live worker."""

    id: str
    handlers: list[str]
    host: str
    pid: int
    concurrency: int
    startedMs: int
    lastSeenMs: int
    inFlight: int
    processed: int


class Queues(_Out):
    """Queue depths per handler and lane, per shard, and the live workers."""

    handlers: dict[str, dict[str, LaneDepth]]
    shards: list[ShardDepth]
    deadLetters: int
    workers: list[WorkerView]


class DeadLetter(_Out):
    """A dead-lettered job, or an inbox message the orchestrators could not apply."""

    shard: int
    id: str
    stream: str
    originalId: str
    deliveries: int
    atMs: int
    reason: str
    runId: str | None = None
    nodeId: str | None = None
    handler: str | None = None
    attempt: int | None = None
    source: Literal["job", "inbox"] = "job"
    """``inbox``: a result or signal that failed to apply ``deliveries`` times (``reason``
    says why); requeueing puts it back on the inbox."""
    messageType: str | None = None
    """The inbox message's type (``succeeded``, ``timer``...), for an inbox letter."""


class DeadLetters(_Out):
    """Dead letters, oldest first."""

    deadLetters: list[DeadLetter]


class Requeued(_Out):
    """How many dead letters went back to their queue."""

    requeued: int


class Purged(_Out):
    """How many dead letters were deleted (their attempts failed)."""

    purged: int


class HandlerInfo(_Out):
    """A handler and the live workers offering it."""

    name: str
    workers: list[str]


class Handlers(_Out):
    """Handlers live workers offer, by name."""

    handlers: list[HandlerInfo]


class WhoAmI(_Out):
    """The caller, its role from the policy and the permissions it holds."""

    user: str
    role: str | None = None
    permissions: list[str]
    auth: Literal["key", "token", "none"]


class Health(_Out):
    """Liveness or readiness."""

    status: Literal["ok", "unavailable"]
    redis: str | None = None
