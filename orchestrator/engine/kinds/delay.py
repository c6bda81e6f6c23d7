"""A delay: waits for its duration or the next tick of its cron, then passes its input on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from cronsim import CronSim

from orchestrator.engine.commands import StartTimer
from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.state import NodeState
from orchestrator.engine.tx import Tx
from orchestrator.spec.model import DelayNode
from orchestrator.vocab import EventType, NodeStatus, RunStatus


def due_ms(node: DelayNode, now_ms: int) -> int:
    """When a delay node's wait ends: now + duration, or the next cron tick (UTC)."""
    if node.duration is not None:
        return now_ms + int(node.duration * 1000)
    assert node.cron is not None
    start = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    tick = next(CronSim(node.cron, start))
    return int(tick.timestamp() * 1000)


class Delay(Kind):
    """Waits (``waiting``, a timer) when ready; completes when the timer fires."""

    skippable: ClassVar[bool] = True

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        node = tx.g.nodes[node_id]
        assert isinstance(node, DelayNode)
        due = due_ms(node, tx.now)
        token = tx.token(1)
        tx.set(
            node_id,
            status=NodeStatus.WAITING,
            input=data,
            start_ms=tx.now,
            due_ms=due,
            token=token,
            attempts=1,
        )
        tx.commands.append(StartTimer(node=node_id, token=token, due_ms=due))
        tx.emit(EventType.NODE_WAITING, node_id, dueMs=due)

    def timer(self, tx: Tx, node_id: str, state: NodeState) -> None:
        if tx.status != RunStatus.RUNNING:
            return
        tx.complete(node_id, state.input or {})
        tx.check_done()
