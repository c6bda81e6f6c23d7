"""A decision: evaluates its condition and takes the edges labelled with the result."""

from __future__ import annotations

from typing import Any

from orchestrator.engine import saga
from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.tx import Tx
from orchestrator.spec.expressions import ExpressionError, evaluate
from orchestrator.spec.model import DecisionNode


class Decision(Kind):
    """Acts at once when ready; a condition that cannot be evaluated fails the node."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        node = tx.g.nodes[node_id]
        assert isinstance(node, DecisionNode)
        tx.set(node_id, input=data, start_ms=tx.now, attempts=1)
        try:
            result = bool(evaluate(node.condition, **tx.expression_scope(data)))
        except ExpressionError as exc:
            saga.fail_node(tx, node_id, f"condition {node.condition!r} failed: {exc}")
            return
        taken = tuple(
            e.id or ""
            for e in tx.g.out_edges.get(node_id, ())
            if e.condition is None or e.condition is result
        )
        tx.complete(node_id, data, taken)
