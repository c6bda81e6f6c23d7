"""Deciding approvals and sending signals from the Monitor.

The monitor binds ``a`` (approve), ``r`` (reject) and ``s`` (send a signal) to the
functions here.  They use what the monitor has (``session``, ``run_id``, ``statuses``,
``selected_node``, ``spec_node()``, ``api()``, ``refuse()``, ``after_action()`` and
``fresh_node()``), fetch the approval as it is now, ask for a comment (or a signal's
name and JSON payload) in a dialog, call the API and say what happened.  A refusal
(timed out, run ended, not an approver) is shown with the API's reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.screens.dialogs.text_input import InputDialog
from orchestrator.spec.model import ApprovalNode, SignalNode
from orchestrator.vocab import NodeStatus

if TYPE_CHECKING:  # the monitor imports this module
    from app.screens.monitor import MonitorScreen


class CommentDialog(InputDialog):
    """Why (required to reject, optional to approve)."""

    def __init__(self, title: str, *, required: bool, hint: str = "") -> None:
        super().__init__(title, placeholder="why (kept with the decision)", hint=hint)
        self.required = required

    def problem(self, text: str) -> str | None:
        """A rejection needs its reason; a comment is at most 4096 characters."""
        if self.required and not text.strip():
            return "say why you reject it (or press Escape to cancel)"
        if len(text) > 4096:
            return "at most 4096 characters"
        return None


def _waiting(screen: MonitorScreen, kind: type[ApprovalNode] | type[SignalNode]) -> list[str]:
    return [
        n
        for n, status in screen.statuses.items()
        if status == NodeStatus.WAITING and isinstance(screen.spec_node(n), kind)
    ]


def decide(screen: MonitorScreen, *, approve: bool) -> None:
    """Approve or reject the selected (or only) waiting approval, after a comment."""
    if not screen.session.can("run:approve"):
        screen.refuse_permission("run:approve", "decide on an approval", screen.run_id or "*")
        return
    run_id = screen.run_id
    if run_id is None:
        screen.refuse("select a run first")
        return
    waiting = _waiting(screen, ApprovalNode)
    node_id = screen.selected_node if screen.selected_node in waiting else None
    if node_id is None and len(waiting) == 1:
        node_id = waiting[0]
    if node_id is None:
        screen.refuse(
            "select the approval to decide on the canvas"
            if waiting
            else "no approval of this run is waiting"
        )
        return
    screen.run_worker(_ask(screen, run_id, node_id, approve), group="action")


async def _ask(screen: MonitorScreen, run_id: str, node_id: str, approve: bool) -> None:
    node = await screen.api(screen.session.client.get_node_status(run_id, node_id))
    if node is None:
        return
    screen.fresh_node(node_id, node)
    view = node.approval
    if view is None or node.status != NodeStatus.WAITING:
        screen.refuse(f"{node_id} no longer waits for a decision (it is {node.status})")
        return
    word = "Approve" if approve else "Reject"
    hint = (
        f"{view.message}\n{view.approvals} of {view.required} "
        f"approvals so far; {view.approvers.text} may decide"
    )

    def answered(comment: str | None) -> None:
        if comment is not None:
            screen.run_worker(_decide(screen, run_id, node_id, approve, comment), group="action")

    screen.app.push_screen(
        CommentDialog(f"{word} {node_id}", required=not approve, hint=hint), answered
    )


async def _decide(
    screen: MonitorScreen, run_id: str, node_id: str, approve: bool, comment: str
) -> None:
    client = screen.session.client
    node = await screen.api(client.decide(run_id, node_id, approve=approve, comment=comment))
    if node is None:
        return
    screen.fresh_node(node_id, node)
    if node.status == NodeStatus.WAITING and node.approval is not None:
        a = node.approval
        text = f"{a.approvals} of {a.required} approvals; still waiting"
    else:
        text = "approved" if (node.output or {}).get("approved") else "rejected"
    screen.notify(f"{node_id} of {run_id}: {text}.", title="Decision")
    screen.after_action(run_id)


def _payload_problem(text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc}"
    return None if isinstance(value, dict) else "the payload must be a JSON object"


def send_signal(screen: MonitorScreen) -> None:
    """Ask for a signal's name and JSON payload, then send it to the selected run."""
    if not screen.session.can("run:signal"):
        screen.refuse_permission("run:signal", "send a signal", screen.run_id or "*")
        return
    run_id = screen.run_id
    if run_id is None:
        screen.refuse("select a run first")
        return
    awaited = [
        node.signal
        for n in _waiting(screen, SignalNode)
        if isinstance(node := screen.spec_node(n), SignalNode)
    ]

    def named(name: str | None) -> None:
        if not name:
            return

        def with_payload(payload: str | None) -> None:
            if payload is not None:
                data = json.loads(payload)
                screen.run_worker(_send(screen, run_id, name, data), group="action")

        dialog = InputDialog(f"Payload of {name}", value="{}", check=_payload_problem)
        screen.app.push_screen(dialog, with_payload)

    hint = f"waiting for: {', '.join(awaited)}" if awaited else "no step waits for a signal yet"
    screen.app.push_screen(
        InputDialog("Send a signal", value=awaited[0] if awaited else "", hint=hint), named
    )


async def _send(screen: MonitorScreen, run_id: str, name: str, payload: dict[str, Any]) -> None:
    answer = await screen.api(screen.session.client.send_signal(run_id, name, payload))
    if answer is None:
        return
    where = f"delivered to {answer.delivered}" if answer.delivered else "kept by the run"
    screen.notify(f"Signal {name} {where}.", title="Signal")
    screen.after_action(run_id)
