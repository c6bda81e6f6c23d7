"""Run failure and saga compensation rules.

A failed run without a saga ends ``failed`` at once: nodes that never ran are
cancelled, nodes already running finish and are recorded.  With
``compensation_strategy: saga`` it goes ``compensating``: once nothing is in flight,
the compensation of every completed task that has one runs, one at a time, in
reverse order of completion.  The run ends ``compensated``, or ``failed`` when a
compensation fails after its retries (the others still run: best effort).
"""

from __future__ import annotations

from orchestrator.engine.tx import NOT_NEEDED, Tx
from orchestrator.vocab import EventType, NodeStatus, RunStatus

_NEVER_RAN = frozenset({NodeStatus.PENDING, NodeStatus.WAITING})


def fail_node(tx: Tx, node_id: str, error: str) -> None:
    """A node failed for good: the run fails (and compensates, for a saga)."""
    tx.set(node_id, status=NodeStatus.FAILED, last_error=error, end_ms=tx.now, due_ms=None)
    tx.emit(EventType.NODE_FAILED, node_id, error=error, attempt=tx.nodes[node_id].attempts)
    fail_run(tx, f"node {node_id} failed: {error}", node_id)


def fail_run(tx: Tx, error: str, node_id: str | None) -> None:
    """The run cannot complete: fail it, or start compensating it."""
    if tx.status != RunStatus.RUNNING:
        return
    tx.error = error
    tx.error_node = node_id
    tx.cancel_nodes(_NEVER_RAN, forward_only=True)
    if tx.g.spec.compensation_strategy == "saga":
        tx.status = RunStatus.COMPENSATING
        tx.emit(EventType.RUN_COMPENSATING, error=error)
        maybe_compensate(tx)
        return
    tx.cancel_nodes(frozenset({NodeStatus.QUEUED}), forward_only=True)
    tx.cancel_nodes(frozenset({NodeStatus.PENDING}))
    tx.finish_run(RunStatus.FAILED, EventType.RUN_FAILED, error=error)


def maybe_compensate(tx: Tx) -> None:
    """When nothing is in flight any more, run the next compensation or end the saga."""
    if tx.status != RunStatus.COMPENSATING:
        return
    if tx.inflight or any(st.status == NodeStatus.WAITING for st in tx.nodes.values()):
        return
    if not tx.comp_started:
        tx.comp_started = True
        tx.comp_queue = _compensation_order(tx)
        tx.emit(EventType.COMPENSATION_STARTED, nodes=list(tx.comp_queue))
    if tx.comp_queue:
        task_id = tx.comp_queue.pop(0)
        comp_id = tx.g.compensation_of[task_id]
        tx.set(task_id, status=NodeStatus.COMPENSATING)
        tx.emit(EventType.NODE_COMPENSATING, task_id, compensation=comp_id)
        tx.set(comp_id, input=dict(tx.nodes[task_id].output or {}), attempts=0)
        tx.dispatch(comp_id, kind="compensation")
        return
    _end_saga(tx)


def _compensation_order(tx: Tx) -> list[str]:
    done = [
        (st.seq or 0, node_id)
        for node_id, st in tx.nodes.items()
        if st.status == NodeStatus.COMPLETED and node_id in tx.g.compensation_of
    ]
    return [node_id for _, node_id in sorted(done, reverse=True)]


def _end_saga(tx: Tx) -> None:
    for node_id, st in tx.nodes.items():
        if st.status != NodeStatus.PENDING:
            continue
        if tx.g.nodes[node_id].type == "compensation":
            tx.set(node_id, status=NodeStatus.SKIPPED)
            tx.emit(EventType.NODE_SKIPPED, node_id, reason=NOT_NEEDED)
        else:
            tx.set(node_id, status=NodeStatus.CANCELLED)
            tx.emit(EventType.NODE_CANCELLED, node_id, was=NodeStatus.PENDING)
    if tx.comp_failed:
        tx.error = f"{tx.error}; a compensation failed too" if tx.error else "a compensation failed"
        tx.finish_run(RunStatus.FAILED, EventType.RUN_FAILED, error=tx.error)
    else:
        tx.finish_run(RunStatus.COMPENSATED, EventType.RUN_COMPENSATED, error=tx.error)


def compensation_done(tx: Tx, comp_id: str, ok: bool) -> None:
    """A compensation node settled: mark its task, then go on with the saga."""
    task_id = next((t for t, c in tx.g.compensation_of.items() if c == comp_id), None)
    if task_id is not None and tx.nodes[task_id].status == NodeStatus.COMPENSATING:
        if ok:
            tx.set(task_id, status=NodeStatus.COMPENSATED)
            tx.emit(EventType.NODE_COMPENSATED, task_id, compensation=comp_id)
        else:
            tx.set(task_id, status=NodeStatus.COMPLETED)
            tx.comp_failed = True
            tx.emit(EventType.COMPENSATION_FAILED, task_id, compensation=comp_id)
    maybe_compensate(tx)
