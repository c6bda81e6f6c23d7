"""The access policy in force: when it was loaded, the last reload, the last error.

A policy edit that does not load leaves the previous policy in force; this panel is
where an admin sees that it happened, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widgets import Static

from app.text import safe
from app.widgets.ops_format import NO_VALUE, stamp

OK_STYLE = "bold #5fd75f"
ERROR_STYLE = "bold #ff5f5f"


def policy_text(status: Mapping[str, Any] | None) -> Text:
    """The panel's text (pure)."""
    if status is None:
        return Text("Loading the policy status…", style="dim")
    text = Text()
    if status.get("inError"):
        text.append("✗ the last edit was refused; the previous policy is in force\n", ERROR_STYLE)
    else:
        text.append("✓ policy loaded\n", OK_STYLE)

    def row(label: str, value: str, style: str = "") -> None:
        text.append(f"{label:<13}", style="bold")
        text.append_text(safe(value, style=style))
        text.append("\n")

    row("loaded", stamp(status.get("loadedAt")))
    row("last reload", stamp(status.get("lastReloadAt")))
    row("lines", str(status.get("policyLines", NO_VALUE)))
    roles = status.get("roles")
    row("roles", ", ".join(str(r) for r in roles) if isinstance(roles, list) else NO_VALUE)
    row("directory", str(status.get("policiesDir") or NO_VALUE))
    if status.get("lastError"):
        row("last error", stamp(status.get("lastErrorAt")))
        text.append_text(safe(status["lastError"], multiline=True, style="#ff5f5f"))
        text.append("\n")
    if status.get("usersFileError"):
        text.append("users file: ", style="bold")
        text.append_text(safe(status["usersFileError"], multiline=True, style="#ff5f5f"))
        text.append("\n")
    text.rstrip()
    return text


class PolicyStatus(Static):
    """The policy status panel."""

    DEFAULT_CSS = """
    PolicyStatus { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """A panel waiting for its first status."""
        super().__init__(policy_text(None), id=id, classes=classes)
        self.status: dict[str, Any] | None = None

    def show(self, status: Mapping[str, Any]) -> None:
        """Show ``GET /system/policy``'s answer."""
        self.status = dict(status)
        self.update(policy_text(status))
