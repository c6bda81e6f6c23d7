"""A compensation: undoes a completed task when a saga fails (see :mod:`..saga`).

It never becomes ready through the graph: the saga dispatches it, with the task's
output as input, once the forward work in flight has settled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from orchestrator.engine import saga
from orchestrator.engine.kinds.runnable import Runnable
from orchestrator.engine.tx import Tx
from orchestrator.protocol import JobKind
from orchestrator.vocab import EventType, NodeStatus, RunStatus


class Compensation(Runnable):
    """Retried while the run compensates; its end moves the saga on."""

    job_kind: ClassVar[JobKind] = "compensation"

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        raise AssertionError(f"compensation {node_id} is dispatched by the saga, not the graph")

    def goes_on(self, tx: Tx) -> bool:
        return tx.status in (RunStatus.RUNNING, RunStatus.COMPENSATING)

    def retries(self, tx: Tx) -> bool:
        return True

    def succeeded(self, tx: Tx, node_id: str, output: Mapping[str, Any]) -> None:
        tx.set(node_id, status=NodeStatus.COMPLETED, output=dict(output), end_ms=tx.now)
        tx.emit(EventType.NODE_COMPLETED, node_id, attempt=tx.nodes[node_id].attempts)
        saga.compensation_done(tx, node_id, ok=True)

    def failed(self, tx: Tx, node_id: str, error: str, attempt: int) -> None:
        tx.set(node_id, status=NodeStatus.FAILED, last_error=error, end_ms=tx.now)
        tx.emit(EventType.NODE_FAILED, node_id, error=error, attempt=attempt)
        saga.compensation_done(tx, node_id, ok=False)
