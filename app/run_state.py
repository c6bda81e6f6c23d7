"""The run the monitor shows: fetched once when it opens, then kept by its events alone.

``GET /runs/{id}`` gives the run as it stood (its nodes and their details, the
header's fields).  From then on each event of :func:`orchestrator.client.follow_run`
changes it: node statuses through :func:`orchestrator.vocab.implied_changes` (the
engine emits an event for every status change: a cancel's stopped nodes, the
compensations a run never needed, the nodes a retry resets), the run's status, error,
end and retry count through the run's events.  Nothing is fetched again to learn a
status.  What events do not carry (a node's input, output, times) is fetched by the
monitor for the one node its panel shows (:meth:`LiveRun.wants_details`), and never
changes a status.

Following starts at the run's first event, so the events before the fetch are applied
again: each sets what it set then, and the later ones set what came after, so the
statuses end where the run is.  Pure (no Textual): tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.widgets.ops_format import parse_time
from orchestrator.vocab import (
    NODE_STATUSES,
    TERMINAL_RUN,
    EventType,
    NodeStatus,
    RunStatus,
    implied_changes,
)
from orchestrator.wire.runs import NodeStatusView, RunEvent, WorkflowRun

_RUN_ERROR = {
    EventType.RUN_FAILED: "error",
    EventType.RUN_COMPENSATING: "error",
    EventType.RUN_COMPENSATED: "error",
    EventType.RUN_CANCELLED: "reason",
}
"""Run events and the field of their data the run's error comes from."""


@dataclass(frozen=True, slots=True)
class Change:
    """What one event changed: the run's own fields, and which nodes' statuses."""

    run: bool = False
    nodes: frozenset[str] = frozenset()


_ITEM_EVENTS = frozenset({EventType.ITEM_COMPLETED, EventType.ITEM_FAILED})


@dataclass
class LiveRun:
    """One run: its fetched view, kept current by its events."""

    view: WorkflowRun
    """The API's ``WorkflowRun`` as fetched (a copy), its run-level fields kept current."""
    statuses: dict[str, str] = field(default_factory=dict)
    """Each node's status: the fetched ones, then what the events say."""
    details: dict[str, NodeStatusView] = field(default_factory=dict)
    """Each node's view as last fetched: input, output, times."""
    _asked: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, view: WorkflowRun) -> LiveRun:
        """The run as ``GET /runs/{id}`` answered (a copy: the monitor changes it as events
        come)."""
        details = dict(view.nodes)
        statuses: dict[str, str] = {k: v.status for k, v in details.items()}
        return cls(view.model_copy(), statuses, details)

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.view.runId

    @property
    def status(self) -> RunStatus:
        """The run's status."""
        return self.view.status

    def apply(self, event: RunEvent) -> Change:
        """Take one event of the run's stream; what it changed."""
        kind, node, data = event.type, event.nodeId, event.data
        run_status, nodes = implied_changes(kind, node, data)
        # Only the run's own nodes: a stream never names others, a forged one may.
        nodes = {n: s for n, s in nodes.items() if n in self.statuses}
        changed = frozenset(n for n, s in nodes.items() if self.statuses[n] != s)
        if (
            kind in _ITEM_EVENTS
            and isinstance(node, str)
            and node in self.statuses
            and "total" in data
        ):
            # A map's counts ride on its item events: its badge moves without a fetch.
            counts = {k: v for k in ("total", "done", "failed") if type(v := data.get(k, 0)) is int}
            detail = self.details.get(node) or self._stub(node)
            progress = {**(detail.progress or {}), **counts}
            self.details[node] = detail.model_copy(update={"progress": progress})
            changed |= {node}
        self.statuses.update(nodes)
        if run_status is None:
            return Change(nodes=changed)
        view = self.view
        view.status = run_status
        if kind == EventType.RUN_RETRIED:
            view.error = view.errorNode = view.endTime = None
            view.duration, view.output = None, None
            epoch = data.get("epoch")
            if isinstance(epoch, int):
                view.retries = max(view.retries or 0, epoch)
        if kind in _RUN_ERROR and data.get(_RUN_ERROR[EventType(kind)]):
            view.error = str(data[_RUN_ERROR[EventType(kind)]])
        if run_status in TERMINAL_RUN:
            self._ended_at(event.timestamp)
        return Change(run=True, nodes=changed)

    def _ended_at(self, stamp: str) -> None:
        end, begin = parse_time(stamp), parse_time(self.view.startTime)
        if end is None:
            return
        self.view.endTime = stamp
        if begin is not None:
            self.view.duration = max(0, round((end - begin).total_seconds() * 1000))

    def _stub(self, node_id: str) -> NodeStatusView:
        # A node of the run not fetched yet: its id and status only.
        status = NodeStatus(self.statuses.get(node_id, NodeStatus.PENDING))
        return NodeStatusView(nodeId=node_id, status=status, attempts=0)

    def node(self, node_id: str) -> NodeStatusView | None:
        """The node's last fetched view with its status from the events (None: no state)."""
        found = self.details.get(node_id)
        if found is None and node_id not in self.statuses:
            return None
        if found is None:
            return self._stub(node_id)
        status = self.statuses.get(node_id)
        if status is None or status == found.status:
            return found
        return found.model_copy(update={"status": NodeStatus(status)})

    def wants_details(self, node_id: str) -> bool:
        """Whether the node's details are older than its status (and not asked for yet)."""
        status = self.statuses.get(node_id)
        found = self.details.get(node_id)
        shown = found.status if found is not None else None
        return status is not None and status != shown and self._asked.get(node_id) != status

    def asking(self, node_id: str) -> None:
        """The node's details are being fetched for its current status."""
        self._asked[node_id] = self.statuses.get(node_id, "")

    def got_details(self, node_id: str, view: NodeStatusView) -> None:
        """The node's fetched view (its status stays the events')."""
        self.details[node_id] = view

    def summary(self) -> str:
        """``5 completed, 1 failed, 2 skipped``: how many nodes are in each status."""
        counts: dict[str, int] = dict.fromkeys(NODE_STATUSES, 0)
        for status in self.statuses.values():
            if status in counts:
                counts[status] += 1
        return ", ".join(f"{n} {s}" for s, n in counts.items() if n)
