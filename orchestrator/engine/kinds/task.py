"""A task: runs its handler with its predecessors' merged outputs and its own ``input``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from orchestrator.engine import saga
from orchestrator.engine.kinds.runnable import Runnable
from orchestrator.engine.tx import Tx
from orchestrator.protocol import JobKind
from orchestrator.spec.model import TaskNode
from orchestrator.vocab import EventType, NodeStatus, RunStatus


class Task(Runnable):
    """Dispatched when ready (or queued for a slot under the run's parallelism)."""

    skippable: ClassVar[bool] = True
    job_kind: ClassVar[JobKind] = "task"

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        node = tx.g.nodes[node_id]
        assert isinstance(node, TaskNode)
        data.update(node.input)
        tx.set(node_id, input=data)
        if tx.inflight >= tx.max_parallel:
            tx.ready.append(node_id)
            return
        tx.dispatch(node_id)

    def succeeded(self, tx: Tx, node_id: str, output: Mapping[str, Any]) -> None:
        if tx.status == RunStatus.RUNNING:
            tx.complete(node_id, output)
            tx.fill_slots()
            tx.check_done()
            return
        # The run failed or was cancelled meanwhile: record what the worker did, move nothing on.
        tx.seq += 1
        done = NodeStatus.COMPLETED
        tx.set(node_id, status=done, output=dict(output), end_ms=tx.now, seq=tx.seq)
        tx.emit(EventType.NODE_COMPLETED, node_id, attempt=tx.nodes[node_id].attempts, late=True)
        saga.maybe_compensate(tx)

    def failed(self, tx: Tx, node_id: str, error: str, attempt: int) -> None:
        if tx.status == RunStatus.RUNNING:
            saga.fail_node(tx, node_id, error)
            return
        tx.set(node_id, status=NodeStatus.FAILED, last_error=error, end_ms=tx.now)
        tx.emit(EventType.NODE_FAILED, node_id, error=error, attempt=attempt, late=True)
        saga.maybe_compensate(tx)
