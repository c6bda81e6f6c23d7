"""An exclusive gateway: the first outgoing edge whose condition holds, else the default."""

from __future__ import annotations

from typing import Any

from orchestrator.engine import saga
from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.tx import Tx
from orchestrator.spec.expressions import ExpressionError, evaluate
from orchestrator.spec.model import Edge


class Exclusive(Kind):
    """Acts at once when ready; no edge to take fails the node."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        tx.set(node_id, input=data, start_ms=tx.now, attempts=1)
        default: Edge | None = None
        scope: dict[str, Any] | None = None
        for edge in tx.g.out_edges.get(node_id, ()):
            if edge.default:
                default = default or edge
                continue
            cond = edge.condition
            if cond is None or cond is True:
                tx.complete(node_id, data, (edge.id or "",))
                return
            if cond is False:
                continue
            scope = scope or tx.expression_scope(data)
            try:
                hit = bool(evaluate(cond, **scope))
            except ExpressionError as exc:
                saga.fail_node(tx, node_id, f"condition {cond!r} on edge {edge.id} failed: {exc}")
                return
            if hit:
                tx.complete(node_id, data, (edge.id or "",))
                return
        if default is not None:
            tx.complete(node_id, data, (default.id or "",))
            return
        saga.fail_node(tx, node_id, "no condition matched and the gateway has no default edge")
