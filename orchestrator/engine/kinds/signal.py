"""A signal node: waits for the signal ``signal`` sent to its run; outputs its payload.

A signal sent before its node waits is kept with the run (``RunState.signals``) and
consumed when the node is reached, so an early callback is never lost.
"""

from __future__ import annotations

from typing import Any

from orchestrator.engine import saga
from orchestrator.engine.events import SignalSent
from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.kinds.waiting import refuse_unless_waiting, timed_out, wait
from orchestrator.engine.state import NodeState
from orchestrator.engine.tx import Tx
from orchestrator.errors import Conflict, NotFound
from orchestrator.spec.model import SignalNode
from orchestrator.vocab import EventType, NodeStatus, RunStatus

MAX_KEPT = 100
"""Signals of one name a run keeps before a node waits for them."""


class Signal(Kind):
    """Completes with a kept signal at once, else waits (``waiting``) for one."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        node = self._node(tx, node_id)
        kept = tx.signals.get(node.signal, ())
        if kept:
            rest = kept[1:]
            if rest:
                tx.signals[node.signal] = rest
            else:
                tx.signals.pop(node.signal)
            tx.set(node_id, input=data, start_ms=tx.now, attempts=1)
            tx.complete(node_id, kept[0])
            return
        due = wait(tx, node_id, data, node.timeout)
        extra: dict[str, Any] = {} if due is None else {"dueMs": due}
        tx.emit(EventType.NODE_WAITING, node_id, signal=node.signal, **extra)

    def receive(self, tx: Tx, ev: SignalSent) -> None:
        """Deliver ``ev`` to the first node waiting for it, or keep it for one to come."""
        nodes = [
            n for n in tx.g.forward if isinstance(tx.g.nodes[n], SignalNode)
            and self._node(tx, n).signal == ev.name
        ]  # fmt: skip
        run = tx.base.run_id
        if not nodes:
            waits = sorted({self._node(tx, n).signal for n in tx.g.forward
                            if isinstance(tx.g.nodes[n], SignalNode)})  # fmt: skip
            known = f"it waits for {', '.join(waits)}" if waits else "it waits for no signal"
            raise NotFound(
                f"workflow {tx.base.workflow_id!r} never waits for signal {ev.name!r} ({known})",
                code="UNKNOWN_SIGNAL",
                details={"runId": run, "signal": ev.name},
            )
        waiting = [n for n in nodes if tx.nodes[n].status == NodeStatus.WAITING]
        if waiting or tx.status != RunStatus.RUNNING:
            node_id = waiting[0] if waiting else nodes[0]
            refuse_unless_waiting(tx, node_id, f"signal {ev.name!r}")
            tx.emit(EventType.SIGNAL_RECEIVED, None, signal=ev.name, step=node_id, by=ev.by)
            tx.complete(node_id, dict(ev.payload))
            tx.check_done()
            return
        if not any(tx.nodes[n].status == NodeStatus.PENDING for n in nodes):
            ended = ", ".join(f"{n} is {tx.nodes[n].status}" for n in nodes)
            raise Conflict(
                f"no step of run {run} waits for signal {ev.name!r} any more ({ended})",
                code="NOT_WAITING",
                details={"runId": run, "signal": ev.name},
            )
        kept = tx.signals.get(ev.name, ())
        if len(kept) >= MAX_KEPT:
            raise Conflict(
                f"run {run} keeps {MAX_KEPT} signals {ev.name!r} already, none consumed yet",
                code="TOO_MANY_SIGNALS",
            )
        tx.signals[ev.name] = (*kept, dict(ev.payload))
        tx.emit(EventType.SIGNAL_RECEIVED, None, signal=ev.name, kept=True, by=ev.by)

    def timer(self, tx: Tx, node_id: str, state: NodeState) -> None:
        node = self._node(tx, node_id)
        if not timed_out(tx, node_id, node.timeout, node.on_timeout):
            return
        if node.on_timeout == "fail":
            saga.fail_node(tx, node_id, f"timed out waiting for signal {node.signal!r}")
            return
        tx.complete(node_id, {"timed_out": True})
        tx.check_done()

    @staticmethod
    def _node(tx: Tx, node_id: str) -> SignalNode:
        node = tx.g.nodes[node_id]
        assert isinstance(node, SignalNode)
        return node
