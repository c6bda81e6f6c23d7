"""A parallel gateway: forks to every outgoing edge; as a join waits for all, any or n of m.

A join with ``cancel_remaining`` (``any``/``n_of_m``) cancels, when it fires, every node
upstream of it still pending, queued, running or waiting: the branches that lost (the
cancelling discriminator).  Their late results are ignored like any cancelled node's; a
losing map's unsettled items and a losing sub-workflow's child run are cancelled too.
"""

from __future__ import annotations

from typing import Any

from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.tx import Tx
from orchestrator.spec.model import AnyNode, ParallelNode
from orchestrator.vocab import ACTIVE, EventType, NodeStatus


def cancel_branches(tx: Tx, join_id: str) -> None:
    """Cancel the join's still-active ancestors (one ``branch_cancelled`` each)."""
    seen: set[str] = set()
    todo = [join_id]
    while todo:
        for edge in tx.g.in_edges.get(todo.pop(), ()):
            if edge.source not in seen:
                seen.add(edge.source)
                todo.append(edge.source)
    losers = [n for n in tx.g.order if n in seen and tx.nodes[n].status in ACTIVE]
    for node_id in losers:
        st = tx.nodes[node_id]
        was = st.status
        tx.cancel_child(st, node_id)  # a losing sub-workflow's run goes too
        tx.set(node_id, status=NodeStatus.CANCELLED, end_ms=tx.now, due_ms=None)
        tx.cancel_items(node_id)  # and a losing map's items
        if node_id in tx.ready:
            tx.ready.remove(node_id)
        tx.emit(EventType.BRANCH_CANCELLED, node_id, join=join_id, was=was)
    for node_id in losers:
        tx.examine_successors(node_id)


class Parallel(Kind):
    """Completes at once when ready, passing its merged inputs on."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        node = tx.g.nodes[node_id]
        tx.set(node_id, input=data, start_ms=tx.now)
        if isinstance(node, ParallelNode) and node.cancel_remaining:
            cancel_branches(tx, node_id)
        tx.complete(node_id, data)

    def join_need(self, node: AnyNode, edges: int) -> int | None:
        assert isinstance(node, ParallelNode)
        if node.join == "any":
            return 1
        if node.join == "n_of_m":
            return node.join_count or edges
        return None
