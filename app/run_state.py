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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.widgets.ops_format import parse_time
from orchestrator.vocab import NODE_STATUSES, TERMINAL_RUN, EventType, RunStatus, implied_changes
from orchestrator.wire.runs import NodeStatusView, RunEvent, WorkflowRun

_RUN_ERROR = {
    EventType.RUN_FAILED: "error",
    EventType.RUN_COMPENSATING: "error",
    EventType.RUN_COMPENSATED: "error",
    EventType.RUN_CANCELLED: "reason",
}
"""Run events and the field of their data the run's error comes from."""
_CLEARED_BY_RETRY = ("error", "errorNode", "endTime", "duration", "output")


@dataclass(frozen=True, slots=True)
class Change:
    """What one event changed: the run's own fields, and which nodes' statuses."""

    run: bool = False
    nodes: frozenset[str] = frozenset()


_ITEM_EVENTS = frozenset({EventType.ITEM_COMPLETED, EventType.ITEM_FAILED})


@dataclass
class LiveRun:
    """One run: its fetched view, kept current by its events."""

    view: dict[str, Any]
    """The API's ``WorkflowRun`` as fetched, its run-level fields kept current."""
    statuses: dict[str, str] = field(default_factory=dict)
    """Each node's status: the fetched ones, then what the events say."""
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each node's view (``NodeStatusView``) as last fetched: input, output, times."""
    _asked: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, view: WorkflowRun) -> LiveRun:
        """The run as ``GET /runs/{id}`` answered."""
        return cls.from_json(view.as_json())

    @classmethod
    def from_json(cls, view: Mapping[str, Any]) -> LiveRun:
        """The run from its JSON (what :meth:`of` keeps: the monitor changes it as events
        come)."""
        nodes: Mapping[str, Any] = view.get("nodes") or {}
        details = {str(k): dict(v) for k, v in nodes.items() if isinstance(v, Mapping)}
        statuses = {k: str(v.get("status")) for k, v in details.items()}
        return cls(dict(view), statuses, details)

    @property
    def run_id(self) -> str:
        """The run's id."""
        return str(self.view.get("runId"))

    @property
    def status(self) -> str:
        """The run's status."""
        return str(self.view.get("status"))

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
            counts = {k: data.get(k, 0) for k in ("total", "done", "failed")}
            detail = self.details.setdefault(node, {"nodeId": node})
            detail["progress"] = {**(detail.get("progress") or {}), **counts}
            changed |= {node}
        self.statuses.update(nodes)
        if run_status is None:
            return Change(nodes=changed)
        self.view["status"] = run_status
        if kind == EventType.RUN_RETRIED:
            for key in _CLEARED_BY_RETRY:
                self.view.pop(key, None)
            epoch = data.get("epoch")
            if isinstance(epoch, int):
                self.view["retries"] = max(int(self.view.get("retries") or 0), epoch)
        if kind in _RUN_ERROR and data.get(_RUN_ERROR[EventType(kind)]):
            self.view["error"] = str(data[_RUN_ERROR[EventType(kind)]])
        if run_status in TERMINAL_RUN:
            self._ended_at(event.timestamp)
        return Change(run=True, nodes=changed)

    def _ended_at(self, stamp: Any) -> None:
        end, begin = parse_time(stamp), parse_time(self.view.get("startTime"))
        if end is None:
            return
        self.view["endTime"] = stamp
        if begin is not None:
            self.view["duration"] = max(0, round((end - begin).total_seconds() * 1000))

    def node(self, node_id: str) -> dict[str, Any] | None:
        """The node's last fetched view with its status from the events (None: no state)."""
        found = self.details.get(node_id)
        if found is None and node_id not in self.statuses:
            return None
        out = dict(found or {"nodeId": node_id})
        out["status"] = self.statuses.get(node_id, out.get("status"))
        return out

    def wants_details(self, node_id: str) -> bool:
        """Whether the node's details are older than its status (and not asked for yet)."""
        status = self.statuses.get(node_id)
        shown = (self.details.get(node_id) or {}).get("status")
        return status is not None and status != shown and self._asked.get(node_id) != status

    def asking(self, node_id: str) -> None:
        """The node's details are being fetched for its current status."""
        self._asked[node_id] = self.statuses.get(node_id, "")

    def got_details(self, node_id: str, view: NodeStatusView) -> None:
        """The node's fetched view (its status stays the events')."""
        self.details[node_id] = view.as_json()

    def summary(self) -> str:
        """``5 completed, 1 failed, 2 skipped``: how many nodes are in each status."""
        counts: dict[str, int] = dict.fromkeys(NODE_STATUSES, 0)
        for status in self.statuses.values():
            if status in counts:
                counts[status] += 1
        return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


def pending_view(run_id: str) -> dict[str, Any]:
    """What the header shows while a run loads."""
    return {"runId": run_id, "status": RunStatus.PENDING}
