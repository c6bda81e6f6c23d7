"""Answers of the operations and insight routes: audit, policy, users, queues, dead
letters, handlers, permissions; approvals and signals; replay, Gantt, diff, stats.

Like :mod:`orchestrator.wire.runs`: the API's response models, re-exported by its
``*_schemas`` modules, and what the client parses their answers with.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from orchestrator.wire.base import Wire, WireTime
from orchestrator.wire.runs import ApprovalAsk, NodeStatusView


class AuditEntry(Wire):
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
    source: Literal["api", "cli", "file", "scheduler", "worker"] = "api"
    """Where the change was made: an API request, a ``dagq`` command, a policies-file edit."""


class AuditList(Wire):
    """Audit entries, newest first."""

    entries: list[AuditEntry]


class StrangerAddress(Wire):
    """One address's refused unauthenticated requests in a minute."""

    address: str
    count: int


class StrangerMinute(Wire):
    """Refused unauthenticated requests in one minute."""

    minute: WireTime
    total: int
    addresses: list[StrangerAddress]
    """The busiest addresses, most requests first."""
    others: int
    """Requests from addresses past the list."""


class StrangerList(Wire):
    """Minutes that saw refused unauthenticated requests, newest first."""

    minutes: list[StrangerMinute]


class PolicyStatus(Wire):
    """The policy in force and the latest reload attempt."""

    policiesDir: str
    loadedAt: WireTime
    lastReloadAt: WireTime | None = None
    lastError: str | None = None
    lastErrorAt: WireTime | None = None
    inError: bool
    policyLines: int
    roles: list[str]
    usersFileError: str | None = None


class ApiKeyInfo(Wire):
    """A key's public id (never the secret or its hash)."""

    id: str
    created: WireTime


class UserInfo(Wire):
    """A user as admins see it."""

    name: str
    role: str
    policyRole: str | None = Field(description="The role policy.csv gives (the one enforced)")
    keys: list[ApiKeyInfo]
    hasPassword: bool
    disabled: bool
    created: WireTime
    updated: WireTime


class UserList(Wire):
    """Every user."""

    users: list[UserInfo]


class IssuedKey(Wire):
    """A new API key, shown once (it replaces the user's older keys)."""

    user: str
    apiKey: str


class CreatedUser(Wire):
    """A new user and its first API key, shown once."""

    user: UserInfo
    apiKey: str


class LaneDepth(Wire):
    """One job stream's backlog."""

    length: int
    pending: int
    waiting: int
    lag: int | None = None


class ShardDepth(Wire):
    """A shard's inbox, timers and dead letters."""

    shard: int
    inbox: int
    timers: int
    dlq: int


class WorkerRoom(Wire):
    """Memory (bytes) and CPU (cores): what a worker offers, or what its attempts hold."""

    memory: int
    cpu: float


class ChildUsage(Wire):
    """What an isolated worker's child processes use."""

    rss: int
    """Resident memory of the live children (bytes)."""
    cpu: float
    """Their CPU time (seconds)."""
    children: int


class WorkerView(Wire):
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
    capacity: WorkerRoom | None = None
    reserved: WorkerRoom | None = Field(default=None, description="What its attempts hold")
    usage: ChildUsage | None = None
    isolation: str | None = Field(
        default=None,
        description="process: every handler in a child process; thread: only those marked so",
    )


class Queues(Wire):
    """Queue depths per handler and lane, per shard, and the live workers."""

    handlers: dict[str, dict[str, LaneDepth]]
    shards: list[ShardDepth]
    deadLetters: int
    workers: list[WorkerView]


class DeadLetter(Wire):
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


class DeadLetters(Wire):
    """Dead letters, oldest first."""

    deadLetters: list[DeadLetter]


class Requeued(Wire):
    """How many dead letters went back to their queue."""

    requeued: int


class Purged(Wire):
    """How many dead letters were deleted (their attempts failed)."""

    purged: int


class HandlerInfo(Wire):
    """A handler and the live workers offering it."""

    name: str
    workers: list[str]


class Handlers(Wire):
    """Handlers live workers offer, by name."""

    handlers: list[HandlerInfo]


class PermissionAnswer(Wire):
    """Whether the caller holds the permission now, and if not why."""

    allowed: bool
    permission: str
    reason: str


class WaitingApprovalView(ApprovalAsk):
    """An approval waiting for a decision: what it asks, where, and whether you may decide."""

    runId: str
    workflowId: str
    workflowName: str
    nodeId: str
    nodeName: str | None = None
    mayDecide: bool
    decidedByYou: bool


class ApprovalList(Wire):
    """``GET /approvals``: oldest request first."""

    approvals: list[WaitingApprovalView]
    total: int


class Decided(NodeStatusView):
    """The approval node after the decision (``completed`` once the outcome is known)."""


class SignalSent(Wire):
    """What became of a signal."""

    runId: str
    signal: str
    delivered: str | None = Field(default=None, description="The node it completed")
    kept: bool = Field(description="Kept until a node waits for it")


class NotifySecret(Wire):
    """The key that signs outgoing notifications."""

    secret: str
    configured: bool = Field(description="Set by triggers.notify_secret (else kept in Redis)")


class ReplayAt(Wire):
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


class ReplayStep(Wire):
    """One recorded event and the nodes it changed."""

    id: str
    type: str
    nodeId: str | None = None
    time: str
    offsetMs: int
    data: dict[str, Any] = Field(default_factory=dict)
    runStatus: str | None = None
    nodes: dict[str, dict[str, Any]]


class ReplayFrames(Wire):
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


class GanttBar(Wire):
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


class CriticalStep(Wire):
    """One node of the critical path: released, ended (ms after the run's start), and
    where its time went."""

    node: str
    release_ms: int
    end_ms: int
    parts_ms: dict[str, int]


class CriticalPath(Wire):
    """The chain of nodes that set the run's (last epoch's) duration."""

    total_ms: int
    """From the epoch's start to the last node's end."""
    epoch_ms: int
    """How long the epoch the path is in lasted."""
    share: float
    """The share of the epoch's duration the path's work and waits explain (0 to 1)."""
    parts_ms: dict[str, int]
    """The total split into execution, queue, backoff, delay and overhead."""
    steps: list[CriticalStep]


class SkippedBar(Wire):
    """A node that was skipped (drawn apart, without a bar)."""

    node: str
    epoch: int = 0
    at_ms: int | None = None
    reason: str | None = None


class Gantt(Wire):
    """Node attempts on a time axis and the critical path."""

    runId: str
    workflowId: str
    workflowVersion: int
    status: str
    startTime: WireTime | None = None
    start_ms: int | None = None
    duration_ms: int
    finished: bool
    complete: bool
    completeFrom: WireTime | None = None
    """Time of the oldest retained event: history is complete from there."""
    epochs: list[int] = Field(
        default_factory=list, description="When each epoch began (ms): the start, then retries"
    )
    critical_path: list[str]
    critical: CriticalPath
    nodes: list[GanttBar]
    skipped: list[SkippedBar]


class RunDiff(Wire):
    """Two runs of one workflow side by side."""

    workflow: str
    runs: list[str]
    versions: list[int]
    versions_differ: bool
    version_diff: dict[str, str]
    branches: list[dict[str, Any]]
    outputs: dict[str, list[dict[str, Any]]]
    durations: list[dict[str, Any]]


class NodeStats(Wire):
    """Durations of one node over many runs (ms)."""

    runs: int
    p50_ms: int
    p95_ms: int
    max_ms: int
    exec_p50_ms: int | None = None
    """Time executing (queue waits and backoff left out)."""
    exec_p95_ms: int | None = None


class WorkflowStats(Wire):
    """Per-node duration percentiles over a workflow's recent finished runs."""

    workflowId: str
    runs: int
    runIds: list[str]
    nodes: dict[str, NodeStats]
