"""A waiting approval as text: its message, who may decide, decisions so far, deadline.

Pure (tests call it); the node details panel and the Approvals screen show it.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from app.text import safe
from app.widgets.ops_format import clock
from orchestrator.wire.runs import ApprovalAsk, SignalAsk

LABEL = "bold"
ASK = "bold #f7768e"


def approval_lines(view: ApprovalAsk) -> list[RenderableType]:
    """What the approval asks and how far it got (every user text through ``safe``)."""
    lines: list[RenderableType] = [
        Text("☑ waiting for approval — a approves, r rejects", style=ASK)
    ]
    lines.append(safe(view.message or "(no message)", multiline=True))

    def row(label: str, value: str) -> None:
        line = Text(f"{label:<10}", style=LABEL)
        line.append_text(safe(value, width=200))
        lines.append(line)

    row("who", view.approvers.text or "anyone allowed run:approve")
    row("approvals", f"{view.approvals} of {view.required}")
    if view.dueTime:
        due = view.dueTime[:19].replace("T", " ")
        row("deadline", f"{due} UTC, then {view.onTimeout}")
    for d in view.decisions:
        mark = "✓" if d.approved else "✗"
        text = f"{mark} {d.by} ({d.role or 'no role'}) {clock(d.at)}"
        if d.comment:
            text += f": {d.comment}"
        lines.append(safe(text, multiline=True))
    return lines


def signal_line(view: SignalAsk) -> RenderableType:
    """A signal node waiting for its signal."""
    return safe(f"⚑ waiting for signal {view.signal} — s sends one", style=ASK)
