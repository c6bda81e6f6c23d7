"""An approval: waits for people; ``required`` approvals approve, one rejection rejects.

Its output is ``{approved, decisions: [{by, role, approved, comment, at}]}`` and it takes
the outgoing edges whose ``condition`` is the outcome (a missing branch ends there).
A decision is an engine event, applied with the run's compare-and-set like any other:
two people deciding at once, a resent request or a restart never count one twice.
"""

from __future__ import annotations

from typing import Any

from orchestrator.engine import saga
from orchestrator.engine.commands import Notify
from orchestrator.engine.events import Decided
from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.kinds.waiting import iso, refuse_unless_waiting, timed_out, wait
from orchestrator.engine.state import NodeState
from orchestrator.engine.tx import Tx
from orchestrator.errors import BadRequest, Conflict, Forbidden
from orchestrator.spec.model import ApprovalNode, Approvers
from orchestrator.spec.templates import render_template
from orchestrator.vocab import EventType


def may_decide(approvers: Approvers | None, user: str, role: str | None) -> bool:
    """Whether ``user`` (with ``role``) is one of the node's approvers (unset: anyone)."""
    if approvers is None or (not approvers.roles and not approvers.users):
        return True
    return user in approvers.users or (role is not None and role in approvers.roles)


def who_decides(approvers: Approvers | None) -> str:
    """``roles workflow_admin or users alice, bob`` (``anyone allowed run:approve``)."""
    if approvers is None or (not approvers.roles and not approvers.users):
        return "anyone allowed run:approve"
    parts = []
    if approvers.roles:
        parts.append("role " + ", ".join(approvers.roles))
    if approvers.users:
        parts.append("user " + ", ".join(approvers.users))
    return " or ".join(parts)


def message(tx: Tx, node: ApprovalNode, data: dict[str, Any]) -> str:
    """The node's message for this run."""
    return render_template(node.message, tx.base.params, data)


class Approval(Kind):
    """Waits (``waiting``) for decisions; a timer applies ``on_timeout``."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        node = self._node(tx, node_id)
        due = wait(tx, node_id, data, node.timeout)
        extra: dict[str, Any] = {} if due is None else {"dueMs": due}
        text = message(tx, node, data)
        who = who_decides(node.approvers)
        tx.emit(
            EventType.APPROVAL_REQUESTED, node_id, message=text, required=node.required,
            approvers=who, **extra,
        )  # fmt: skip
        notify = tx.g.spec.notify
        if notify is not None and EventType.APPROVAL_REQUESTED in notify.on:
            body = {
                "event": EventType.APPROVAL_REQUESTED.value,
                "runId": tx.base.run_id,
                "workflowId": tx.base.workflow_id,
                "nodeId": node_id,
                "message": text,
                "required": node.required,
                "approvers": who,
                "requestedTime": iso(tx.now),
                **({"dueTime": iso(due)} if due is not None else {}),
            }
            tx.commands.append(Notify(url=notify.url, body=body))

    def decide(self, tx: Tx, ev: Decided) -> None:
        """Record one person's decision; complete the node when the outcome is known."""
        node = self._node(tx, ev.node)
        word = "an approval" if ev.approve else "a rejection"
        refuse_unless_waiting(tx, ev.node, word)
        if not may_decide(node.approvers, ev.by, ev.role):
            raise Forbidden(
                f"{ev.by} may not decide step {ev.node!r}: only {who_decides(node.approvers)}",
                code="NOT_AN_APPROVER",
                details={"nodeId": ev.node, "user": ev.by},
            )
        st = tx.nodes[ev.node]
        earlier = next((d for d in st.decisions if d.get("by") == ev.by), None)
        if earlier is not None:
            did = "approved" if earlier.get("approved") else "rejected"
            raise Conflict(
                f"{ev.by} already {did} step {ev.node!r} at {earlier.get('at')}; one person "
                f"counts once ({self._count(st)} of {node.required} approvals so far)",
                code="ALREADY_DECIDED",
                details={"nodeId": ev.node, "user": ev.by},
            )
        if len(ev.comment) > 4096:
            raise BadRequest("a comment is at most 4096 characters")
        decision = {
            "by": ev.by,
            "role": ev.role,
            "approved": ev.approve,
            "comment": ev.comment,
            "at": iso(ev.at_ms),
        }
        st = tx.set(ev.node, decisions=(*st.decisions, decision))
        approvals = self._count(st)
        tx.emit(
            EventType.APPROVAL_DECIDED,
            ev.node,
            by=ev.by,
            role=ev.role,
            approved=ev.approve,
            comment=ev.comment,
            approvals=approvals,
            required=node.required,
        )
        if not ev.approve:
            self._finish(tx, ev.node, approved=False)
        elif approvals >= node.required:
            self._finish(tx, ev.node, approved=True)

    def timer(self, tx: Tx, node_id: str, state: NodeState) -> None:
        node = self._node(tx, node_id)
        if not timed_out(tx, node_id, node.timeout, node.on_timeout):
            return
        if node.on_timeout == "fail":
            saga.fail_node(tx, node_id, f"timed out waiting for {node.required} approval(s)")
            return
        self._finish(tx, node_id, approved=node.on_timeout == "approve", timed_out_=True)

    def _finish(self, tx: Tx, node_id: str, *, approved: bool, timed_out_: bool = False) -> None:
        st = tx.nodes[node_id]
        output: dict[str, Any] = {
            "approved": approved,
            "decisions": [dict(d) for d in st.decisions],
        }
        if timed_out_:
            output["timed_out"] = True
        taken = tuple(
            e.id or "" for e in tx.g.out_edges.get(node_id, ()) if e.condition is approved
        )
        tx.complete(node_id, output, taken)
        tx.check_done()

    @staticmethod
    def _count(st: NodeState) -> int:
        return sum(1 for d in st.decisions if d.get("approved"))

    @staticmethod
    def _node(tx: Tx, node_id: str) -> ApprovalNode:
        node = tx.g.nodes[node_id]
        assert isinstance(node, ApprovalNode)
        return node
