"""Answers about workflows and runs: summaries, validation, runs, nodes, events, logs,
a map's items, and the caller.

The API's response models *are* these (``orchestrator/api/schemas.py`` re-exports
them; its OpenAPI document is generated from them), and the client parses every
answer with them, so the two cannot drift.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from orchestrator.vocab import NodeStatus, RunStatus
from orchestrator.wire.base import Wire, WireTime

WorkflowStatus = Literal["draft", "published", "deprecated"]


class WorkflowSummary(Wire):
    """One row of the workflow list."""

    id: str
    name: str
    description: str = ""
    status: WorkflowStatus
    version: int
    nodeCount: int
    edgeCount: int
    tags: list[str] = Field(default_factory=list)
    createdAt: WireTime
    updatedAt: WireTime


class WorkflowList(Wire):
    """A page of workflows."""

    workflows: list[WorkflowSummary]
    total: int
    hasMore: bool


class WorkflowRecord(Wire):
    """A stored workflow as a client reads it: the record's fields, the spec's (as
    exported, snake_case) kept as they came (:meth:`spec`)."""

    id: str
    name: str
    version: int
    status: WorkflowStatus
    createdAt: WireTime
    updatedAt: WireTime
    createdBy: str | None = None
    updatedBy: str | None = None

    def spec(self) -> dict[str, Any]:
        """The workflow's spec: the answer without the record's fields."""
        return {k: v for k, v in self.as_json().items() if k not in _RECORD_ONLY}


_RECORD_ONLY = frozenset({"status", "createdAt", "updatedAt", "createdBy", "updatedBy"})


class VersionRecord(Wire):
    """One immutable version as a client reads it (the spec as it came)."""

    version: int
    workflowId: str
    spec: dict[str, Any]
    createdAt: WireTime
    createdBy: str | None = None
    changeLog: str = Field(default="", description="Empty when none was given")


class ValidationIssue(Wire):
    """One problem the validator found."""

    code: str
    message: str
    nodeId: str | None = None
    edgeId: str | None = None
    path: str | None = None
    suggestion: str | None = None


class ValidationResult(Wire):
    """The validator's verdict; ``valid`` when there are no errors."""

    valid: bool
    errors: list[ValidationIssue]
    warnings: list[ValidationIssue]


class Approvers(Wire):
    """Who may decide an approval: the spec's roles and users, and a sentence saying so."""

    roles: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)
    text: str = ""


class DecisionView(Wire):
    """One person's decision."""

    by: str
    role: str | None = None
    approved: bool
    comment: str = ""
    at: str


class ApprovalAsk(Wire):
    """What a waiting approval asks: its message, who may decide, the decisions so far and
    its deadline."""

    message: str
    approvers: Approvers = Field(
        default_factory=Approvers, description="Who may decide: the spec's approvers and their text"
    )
    required: int
    approvals: int
    decisions: list[DecisionView]
    requestedTime: str | None = None
    dueTime: str | None = None
    onTimeout: str


class SignalAsk(Wire):
    """What a waiting signal node waits for."""

    signal: str


class NodeStatusView(Wire):
    """One node of a run."""

    nodeId: str
    status: NodeStatus
    attempts: int
    nodeName: str | None = None
    startTime: WireTime | None = None
    endTime: WireTime | None = None
    dueTime: WireTime | None = None
    duration: int | None = None
    lastError: str | None = None
    error: str | None = Field(
        default=None, description="The reference's name of lastError, when the node failed"
    )
    worker: str | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    takenEdges: list[str] | None = None
    progress: dict[str, int] | None = Field(
        default=None, description="A map node's items: total, done, failed, inFlight"
    )
    childRunId: str | None = Field(
        default=None, description="The run a sub-workflow node's current attempt started"
    )
    waitingFor: str | None = Field(default=None, description="Why a queued node is not running")
    approval: ApprovalAsk | None = Field(
        default=None, description="A waiting approval: message, approvers, decisions, due time"
    )
    awaits: SignalAsk | None = Field(
        default=None, description="A waiting signal node: the signal it waits for"
    )


class RunParent(Wire):
    """The run and node that started a child run."""

    runId: str | None = None
    nodeId: str | None = None


class WorkflowRun(Wire):
    """A run: the design's Runtime State Model."""

    id: str
    runId: str
    workflowId: str
    workflowVersion: int
    status: RunStatus
    startTime: WireTime
    endTime: WireTime | None = None
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
    parent: RunParent | None = Field(
        default=None, description="A child run's parent: runId and the nodeId that started it"
    )
    children: list[str] | None = Field(
        default=None, description="Runs this run's sub-workflow nodes started (current attempts)"
    )
    metadata: dict[str, Any] | None = None
    warnings: list[str] | None = None


class WorkflowRunSummary(Wire):
    """One row of a run listing."""

    id: str
    runId: str
    workflowId: str
    workflowVersion: int
    status: RunStatus
    startTime: WireTime
    endTime: WireTime | None = None
    duration: int | None = None
    error: str | None = None
    workflowName: str | None = Field(default=None, description="Absent once it was deleted")
    completedNodes: int | None = Field(default=None, description="Nodes that completed")
    totalNodes: int | None = None


class RunList(Wire):
    """A page of runs, newest first."""

    runs: list[WorkflowRunSummary]
    total: int
    hasMore: bool


class NodeList(Wire):
    """Every node of a run."""

    nodes: list[NodeStatusView]


class RunEvent(Wire):
    """One event of a run (``id`` is its stream id: pass it back as ``since``)."""

    id: str
    timestamp: WireTime
    type: str
    runId: str
    nodeId: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class EventList(Wire):
    """Events oldest first."""

    events: list[RunEvent]
    lastEventId: str | None = None


class WhoAmI(Wire):
    """The caller, its role from the policy and the permissions it holds."""

    user: str
    role: str | None = None
    permissions: list[str]
    auth: Literal["key", "token", "none"]


class LogLine(Wire):
    """One line: a logging level name (INFO, WARNING...), or stdout/stderr for print."""

    at: str
    level: str
    text: str


class AttemptLogView(Wire):
    """What one attempt of a node logged (the last lines, when it said more)."""

    id: str
    nodeId: str
    attempt: int
    kind: str
    outcome: str
    worker: str
    startedAt: str | None = None
    endedAt: str | None = None
    dropped: int = Field(description="Earlier lines not kept (the attempt said more)")
    lines: list[LogLine]


class RunLogs(Wire):
    """Attempts oldest first; pass ``lastId`` back as ``since`` for what comes after."""

    runId: str
    nodeId: str | None = None
    attempts: list[AttemptLogView]
    lastId: str | None = None


class ItemView(Wire):
    """One item: its index, status, attempts, its element, output or error."""

    index: int
    status: NodeStatus
    attempts: int
    item: Any = None
    output: dict[str, Any] | None = None
    error: str | None = None
    worker: str | None = None
    startTime: str | None = None
    endTime: str | None = None


class MapItems(Wire):
    """A page of a map node's items and its counts; ``total``: how many match ``status``."""

    runId: str
    nodeId: str
    progress: dict[str, int]
    total: int
    items: list[ItemView]
