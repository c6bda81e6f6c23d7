"""What a waiting approval or signal node asks for, as the API shows it."""

from __future__ import annotations

from typing import Any

from orchestrator.engine.kinds.approval import who_decides
from orchestrator.engine.state import RunState
from orchestrator.service.views import iso
from orchestrator.spec.graph import Graph
from orchestrator.spec.model import ApprovalNode, SignalNode
from orchestrator.spec.templates import render_template
from orchestrator.vocab import NodeStatus


def waiting_view(graph: Graph, state: RunState, node_id: str) -> dict[str, Any] | None:
    """What a waiting approval or signal node asks for (None for any other node)."""
    node = graph.nodes.get(node_id)
    st = state.nodes.get(node_id)
    if st is None or st.status != NodeStatus.WAITING:
        return None
    if isinstance(node, SignalNode):
        return {"signal": node.signal}
    if not isinstance(node, ApprovalNode):
        return None
    approvers = node.approvers
    view: dict[str, Any] = {
        "message": render_template(node.message, state.params, st.input or {}),
        "approvers": {
            "roles": list(approvers.roles) if approvers else [],
            "users": list(approvers.users) if approvers else [],
            "text": who_decides(approvers),
        },
        "required": node.required,
        "approvals": sum(1 for d in st.decisions if d.get("approved")),
        "decisions": [dict(d) for d in st.decisions],
        "requestedTime": iso(st.start_ms),
        "onTimeout": node.on_timeout,
    }
    if st.due_ms is not None:
        view["dueTime"] = iso(st.due_ms)
    return view


def add_waiting(view: dict[str, Any], graph: Graph, state: RunState) -> None:
    """Put each waiting approval's or signal's ask in its node's view (``waitingFor``), and
    the signals the run keeps (``keptSignals``)."""
    for node_id, node in view["nodes"].items():
        ask = waiting_view(graph, state, node_id)
        if ask is not None:
            node["approval" if "message" in ask else "awaits"] = ask
    if state.signals:
        view["keptSignals"] = {k: len(v) for k, v in state.signals.items()}
