"""The one vocabulary of runs: statuses, event types and what each event implies.

Every run or node status and every event type the engine writes is named here, once.
:data:`IMPLIES` says which status each event type leaves its run or node in; the
tables clients read (the monitor's and ``dagq runs watch``'s event -> status maps,
the terminal sets) are derived from it, never written again.  The members are
``StrEnum``s: they are their own wire form (``RunStatus.FAILED == "failed"``), in
JSON, in Redis hashes and in f-strings alike.

This module sits on the ground floor (beside ``keys`` and ``errors``): the engine,
the store, the service, the API, the client, the CLI and the app all speak it, and
it imports nothing of theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class RunStatus(StrEnum):
    """Where a run stands."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    CANCELLED = "cancelled"


class NodeStatus(StrEnum):
    """Where one node of a run stands."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    """A delay node waiting for its time, a task backing off before a retry, an approval
    waiting for people, a signal node waiting for its signal."""
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    CANCELLED = "cancelled"


RUN_STATUSES: tuple[RunStatus, ...] = tuple(RunStatus)
NODE_STATUSES: tuple[NodeStatus, ...] = tuple(NodeStatus)


class EventType(StrEnum):
    """The type of one entry of a run's event stream (``ev:<run id>``)."""

    RUN_STARTED = "run_started"
    RUN_RETRIED = "run_retried"
    """The run runs again; ``data.reset`` maps each node it reset to its new status."""
    RUN_COMPENSATING = "run_compensating"
    RUN_COMPLETED = "run_completed"
    RUN_FAILED = "run_failed"
    RUN_COMPENSATED = "run_compensated"
    RUN_CANCELLED = "run_cancelled"
    COMPENSATION_STARTED = "compensation_started"
    """The saga built its compensation queue (the run is already compensating)."""
    NODE_READY = "node_ready"
    """A retry is due while the run has no free slot: the node waits, first in line."""
    NODE_QUEUED = "node_queued"
    NODE_STARTED = "node_started"
    NODE_COMPLETED = "node_completed"
    NODE_FAILED = "node_failed"
    NODE_RETRYING = "node_retrying"
    NODE_WAITING = "node_waiting"
    NODE_SKIPPED = "node_skipped"
    NODE_CANCELLED = "node_cancelled"
    """A node stopped before it settled: the run was cancelled, failed or ran out of time."""
    NODE_COMPENSATING = "node_compensating"
    NODE_COMPENSATED = "node_compensated"
    COMPENSATION_FAILED = "compensation_failed"
    """A task's compensation failed for good: the task stays completed."""
    ITEM_COMPLETED = "item_completed"
    """One item of a map node succeeded (``data``: index, attempt and the map's counts)."""
    ITEM_RETRYING = "item_retrying"
    ITEM_FAILED = "item_failed"
    """One item of a map node failed after its retries; the map goes on while it tolerates."""
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_DECIDED = "approval_decided"
    """One person's decision (the node completes when the outcome is known)."""
    SIGNAL_RECEIVED = "signal_received"
    """A run event: a signal arrived (delivered to a waiting node, or kept for later)."""
    NODE_TIMED_OUT = "node_timed_out"
    """A waiting approval or signal passed its timeout; its ``on_timeout`` follows."""
    BRANCH_CANCELLED = "branch_cancelled"
    """A join with ``cancel_remaining`` fired: this node of a losing branch was cancelled."""

    @property
    def run_status(self) -> RunStatus | None:
        """The status this event leaves its run in (None: a node event)."""
        implied = IMPLIES[self]
        return implied if isinstance(implied, RunStatus) else None

    @property
    def node_status(self) -> NodeStatus | None:
        """The status this event leaves its node in (None: a run event)."""
        implied = IMPLIES[self]
        return implied if isinstance(implied, NodeStatus) else None


IMPLIES: Mapping[EventType, RunStatus | NodeStatus] = MappingProxyType(
    {
        EventType.RUN_STARTED: RunStatus.RUNNING,
        EventType.RUN_RETRIED: RunStatus.RUNNING,
        EventType.RUN_COMPENSATING: RunStatus.COMPENSATING,
        EventType.RUN_COMPLETED: RunStatus.COMPLETED,
        EventType.RUN_FAILED: RunStatus.FAILED,
        EventType.RUN_COMPENSATED: RunStatus.COMPENSATED,
        EventType.RUN_CANCELLED: RunStatus.CANCELLED,
        EventType.COMPENSATION_STARTED: RunStatus.COMPENSATING,
        EventType.NODE_READY: NodeStatus.PENDING,
        EventType.NODE_QUEUED: NodeStatus.QUEUED,
        EventType.NODE_STARTED: NodeStatus.RUNNING,
        EventType.NODE_COMPLETED: NodeStatus.COMPLETED,
        EventType.NODE_FAILED: NodeStatus.FAILED,
        EventType.NODE_RETRYING: NodeStatus.WAITING,
        EventType.NODE_WAITING: NodeStatus.WAITING,
        EventType.NODE_SKIPPED: NodeStatus.SKIPPED,
        EventType.NODE_CANCELLED: NodeStatus.CANCELLED,
        EventType.NODE_COMPENSATING: NodeStatus.COMPENSATING,
        EventType.NODE_COMPENSATED: NodeStatus.COMPENSATED,
        EventType.COMPENSATION_FAILED: NodeStatus.COMPLETED,
        EventType.ITEM_COMPLETED: NodeStatus.RUNNING,
        EventType.ITEM_RETRYING: NodeStatus.RUNNING,
        EventType.ITEM_FAILED: NodeStatus.RUNNING,
        EventType.APPROVAL_REQUESTED: NodeStatus.WAITING,
        EventType.APPROVAL_DECIDED: NodeStatus.WAITING,
        EventType.SIGNAL_RECEIVED: RunStatus.RUNNING,
        EventType.NODE_TIMED_OUT: NodeStatus.WAITING,
        EventType.BRANCH_CANCELLED: NodeStatus.CANCELLED,
    }
)
"""The run or node status each event type implies: the one table clients derive from."""

if set(IMPLIES) != set(EventType):  # pragma: no cover - a programming error at import
    raise RuntimeError(f"event types without an implied status: {set(EventType) - set(IMPLIES)}")

RUN_EVENT_STATUS: Mapping[str, RunStatus] = MappingProxyType(
    {e: s for e, s in IMPLIES.items() if isinstance(s, RunStatus)}
)
"""Run events and the status each leaves the run in."""
NODE_EVENT_STATUS: Mapping[str, NodeStatus] = MappingProxyType(
    {e: s for e, s in IMPLIES.items() if isinstance(s, NodeStatus)}
)
"""Node events and the status each leaves its node in."""


def implied_changes(
    type_: str, node: str | None, data: Mapping[str, object] | None = None
) -> tuple[RunStatus | None, dict[str, NodeStatus]]:
    """What one recorded event changes: the run's new status (None: unchanged) and the
    new status of each node it touches.

    A node event changes its node; ``run_retried`` also names every node it reset
    (``data.reset``, node -> status).  Every status change the engine makes has its
    event, so these changes, applied in order, give each node's status.
    """
    if type_ not in EventType._value2member_map_:
        return None, {}  # a type this client does not know changes nothing it shows
    implied = IMPLIES[EventType(type_)]
    nodes: dict[str, NodeStatus] = {}
    if isinstance(implied, NodeStatus):
        if isinstance(node, str) and node:
            nodes[node] = implied
        return None, nodes
    reset = (data or {}).get("reset") if type_ == EventType.RUN_RETRIED else None
    if isinstance(reset, Mapping):
        for nid, status in reset.items():
            if isinstance(nid, str) and status in NodeStatus._value2member_map_:
                nodes[nid] = NodeStatus(status)
    return implied, nodes


TERMINAL_RUN: frozenset[RunStatus] = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.COMPENSATED, RunStatus.CANCELLED}
)
"""Statuses of a run that has ended (a retry may reopen it)."""
TERMINAL_EVENTS: frozenset[EventType] = frozenset(
    e for e in EventType if e.run_status in TERMINAL_RUN
)
"""Events that end a run."""
_SAGA = frozenset({RunStatus.COMPENSATING, RunStatus.COMPENSATED})
COMPENSATION_EVENTS: frozenset[EventType] = frozenset(
    e
    for e, s in IMPLIES.items()
    if s in _SAGA  # a run's or a node's: the words are shared
) | {EventType.COMPENSATION_FAILED}
"""Events of a saga's compensation path."""

IN_FLIGHT: frozenset[NodeStatus] = frozenset({NodeStatus.QUEUED, NodeStatus.RUNNING})
"""Node statuses holding a slot of the run's parallelism (a job is out)."""
ACTIVE: frozenset[NodeStatus] = IN_FLIGHT | {NodeStatus.PENDING, NodeStatus.WAITING}
"""Node statuses of work not yet settled."""
SETTLED: frozenset[NodeStatus] = frozenset(NodeStatus) - ACTIVE
"""Node statuses after which a node's outcome for its successors is known."""
DONE_FOR_SUCCESSORS: frozenset[NodeStatus] = frozenset(
    {NodeStatus.COMPLETED, NodeStatus.COMPENSATING, NodeStatus.COMPENSATED}
)
"""A node in one of these passes its taken edges on."""
DEAD_FOR_SUCCESSORS: frozenset[NodeStatus] = SETTLED - DONE_FOR_SUCCESSORS
"""A node in one of these takes no edge (unless a retry skipped it on request)."""


ROLES: tuple[str, ...] = ("workflow_designer", "workflow_operator", "workflow_admin")
"""The design's three roles (``security.roles`` and an approval's ``approvers`` speak them)."""


class AuditOutcome(StrEnum):
    """How a change recorded in the audit trail ended."""

    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"
    INTERRUPTED = "interrupted"
    """The process making the change ended before it could record the outcome."""
