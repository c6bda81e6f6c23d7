"""An inclusive gateway (BPMN's OR split): every outgoing edge whose condition holds.

The default edge is taken only when no condition holds; with no default edge and no
condition holding, the gateway fails (as BPMN's does).  A join after it waits only for
the branches that were taken: the edges it did not take count as settled and not taken,
the engine's ordinary skip rule.
"""

from __future__ import annotations

from typing import Any

from orchestrator.engine import saga
from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.tx import Tx
from orchestrator.spec.expressions import ExpressionError, evaluate


class Inclusive(Kind):
    """Acts at once when ready; a condition that cannot be evaluated fails the node."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        tx.set(node_id, input=data, start_ms=tx.now, attempts=1)
        taken: list[str] = []
        default: str | None = None
        scope = tx.expression_scope(data)
        for edge in tx.g.out_edges.get(node_id, ()):
            if edge.default:
                default = default or edge.id or ""
                continue
            cond = edge.condition
            if isinstance(cond, str):
                try:
                    hit = bool(evaluate(cond, **scope))
                except ExpressionError as exc:
                    saga.fail_node(
                        tx, node_id, f"condition {cond!r} on edge {edge.id} failed: {exc}"
                    )
                    return
            else:
                hit = cond is not False
            if hit:
                taken.append(edge.id or "")
        if not taken and default is not None:
            taken.append(default)
        if not taken:
            saga.fail_node(tx, node_id, "no condition held and the gateway has no default edge")
            return
        tx.complete(node_id, data, tuple(taken))
