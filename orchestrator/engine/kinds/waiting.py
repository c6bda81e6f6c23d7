"""What approvals and signals share: waiting with an optional timeout, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.durations import format_duration
from orchestrator.engine.commands import StartTimer
from orchestrator.engine.tx import Tx
from orchestrator.errors import Conflict
from orchestrator.vocab import EventType, NodeStatus, RunStatus


def iso(ms: int) -> str:
    """``2026-12-01T09:45:00.000Z``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def wait(tx: Tx, node_id: str, data: dict[str, Any], timeout_s: float | None) -> int | None:
    """Put the node in ``waiting`` (with a timer when it has a timeout); its due time."""
    token = tx.token(1)
    due = None if timeout_s is None else tx.now + int(timeout_s * 1000)
    tx.set(
        node_id,
        status=NodeStatus.WAITING,
        input=data,
        start_ms=tx.now,
        due_ms=due,
        token=token,
        attempts=1,
        decisions=(),
    )
    if due is not None:
        tx.commands.append(StartTimer(node=node_id, token=token, due_ms=due))
    return due


def timed_out(tx: Tx, node_id: str, timeout_s: float | None, then: str) -> bool:
    """The timer fired: record it; False when the run no longer runs (nothing to do)."""
    if tx.status != RunStatus.RUNNING:
        return False
    waited = format_duration(timeout_s) if timeout_s is not None else "its timeout"
    tx.emit(EventType.NODE_TIMED_OUT, node_id, after=waited, then=then)
    return True


def refuse_unless_waiting(tx: Tx, node_id: str, what: str) -> None:
    """``Conflict`` with the reason when the run or the node no longer waits."""
    run = tx.base.run_id
    if tx.status != RunStatus.RUNNING:
        raise Conflict(
            f"run {run} is {tx.status}; {what} can only be given while it runs",
            code="RUN_ENDED",
            details={"runId": run, "status": tx.status},
        )
    st = tx.nodes[node_id]
    if st.status == NodeStatus.WAITING and st.due_ms is not None and tx.now >= st.due_ms:
        raise Conflict(
            f"step {node_id!r} timed out at {iso(st.due_ms)}; {what} came too late",
            code="TIMED_OUT",
            details={"runId": run, "nodeId": node_id, "dueTime": iso(st.due_ms)},
        )
    if st.status == NodeStatus.WAITING:
        return
    if st.status == NodeStatus.PENDING:
        why = "is not waiting yet (the steps before it have not finished)"
    elif (st.output or {}).get("timed_out") or (st.last_error or "").startswith("timed out"):
        why = f"timed out at {iso(st.end_ms or tx.now)}"
    else:
        why = f"is {st.status} already"
    raise Conflict(
        f"step {node_id!r} {why}; {what} refused",
        code="NOT_WAITING",
        details={"runId": run, "nodeId": node_id, "status": st.status},
    )
