"""Kinds whose attempts run a handler on a worker: tasks and compensations.

An attempt that fails waits for its retry timer (``waiting``); the timer dispatches
the next attempt, or, when the run's parallelism is used up, puts the node back at
the head of the ready queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.state import NodeState
from orchestrator.engine.tx import Tx
from orchestrator.protocol import JobKind
from orchestrator.vocab import EventType, NodeStatus, RunStatus


class Runnable(Kind):
    """Common rules of the kinds that run handlers."""

    runnable: ClassVar[bool] = True
    job_kind: ClassVar[JobKind]

    def goes_on(self, tx: Tx) -> bool:
        """Whether its next attempt may be dispatched while the run is in its status."""
        return tx.status == RunStatus.RUNNING

    def retries(self, tx: Tx) -> bool:
        """Whether a failed attempt may be retried while the run is in its status."""
        return tx.status == RunStatus.RUNNING

    def timer(self, tx: Tx, node_id: str, state: NodeState) -> None:
        """The retry backoff is over: dispatch the next attempt (or queue for a slot)."""
        if tx.status == RunStatus.RUNNING and tx.inflight >= tx.max_parallel:
            # No free slot: queue the retry ahead of nodes that became ready after it.
            tx.set(node_id, status=NodeStatus.PENDING, due_ms=None)
            tx.ready.insert(0, node_id)
            tx.emit(EventType.NODE_READY, node_id, attempt=state.attempts + 1)
            return
        if self.goes_on(tx):
            tx.dispatch(node_id, kind=self.job_kind)

    def succeeded(self, tx: Tx, node_id: str, output: Mapping[str, Any]) -> None:
        """Its live attempt returned ``output``."""
        raise NotImplementedError

    def failed(self, tx: Tx, node_id: str, error: str, attempt: int) -> None:
        """Its live attempt failed and will not be retried."""
        raise NotImplementedError
