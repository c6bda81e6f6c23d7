"""A waiting approval as text: its message, who may decide, decisions so far, deadline.

Pure (tests call it); the node details panel and the Approvals screen show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from app.text import safe
from app.widgets.ops_format import clock

LABEL = "bold"
ASK = "bold #f7768e"


def approval_lines(view: Mapping[str, Any]) -> list[RenderableType]:
    """What the approval asks and how far it got (every user text through ``safe``)."""
    lines: list[RenderableType] = [
        Text("☑ waiting for approval — a approves, r rejects", style=ASK)
    ]
    lines.append(safe(str(view.get("message") or "(no message)"), multiline=True))

    def row(label: str, value: str) -> None:
        line = Text(f"{label:<10}", style=LABEL)
        line.append_text(safe(value, width=200))
        lines.append(line)

    approvers = view.get("approvers") or {}
    row("who", str(approvers.get("text") or "anyone allowed run:approve"))
    row("approvals", f"{view.get('approvals', 0)} of {view.get('required', 1)}")
    if view.get("dueTime"):
        due = str(view["dueTime"])[:19].replace("T", " ")
        row("deadline", f"{due} UTC, then {view.get('onTimeout')}")
    for d in view.get("decisions") or []:
        mark = "✓" if d.get("approved") else "✗"
        text = f"{mark} {d.get('by')} ({d.get('role') or 'no role'}) {clock(d.get('at'))}"
        if d.get("comment"):
            text += f": {d['comment']}"
        lines.append(safe(text, multiline=True))
    return lines


def signal_line(view: Mapping[str, Any]) -> RenderableType:
    """A signal node waiting for its signal."""
    return safe(f"⚑ waiting for signal {view.get('signal')} — s sends one", style=ASK)
