"""A parallel gateway: forks to every outgoing edge; as a join waits for all, any or n of m."""

from __future__ import annotations

from typing import Any

from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.tx import Tx
from orchestrator.spec.model import AnyNode, ParallelNode


class Parallel(Kind):
    """Completes at once when ready, passing its merged inputs on."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        tx.set(node_id, input=data, start_ms=tx.now)
        tx.complete(node_id, data)

    def join_need(self, node: AnyNode, edges: int) -> int | None:
        assert isinstance(node, ParallelNode)
        if node.join == "any":
            return 1
        if node.join == "n_of_m":
            return node.join_count or edges
        return None
