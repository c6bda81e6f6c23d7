"""The access policy in force: when it was loaded, the last reload, the last error.

A policy edit that does not load leaves the previous policy in force; this panel is
where an admin sees that it happened, and why.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from app.text import safe
from app.widgets.ops_format import NO_VALUE, stamp
from orchestrator.wire import ops

OK_STYLE = "bold #5fd75f"
ERROR_STYLE = "bold #ff5f5f"


def policy_text(status: ops.PolicyStatus | None) -> Text:
    """The panel's text (pure)."""
    if status is None:
        return Text("Loading the policy status…", style="dim")
    text = Text()
    if status.inError:
        text.append("✗ the last edit was refused; the previous policy is in force\n", ERROR_STYLE)
    else:
        text.append("✓ policy loaded\n", OK_STYLE)

    def row(label: str, value: str, style: str = "") -> None:
        text.append(f"{label:<13}", style="bold")
        text.append_text(safe(value, style=style))
        text.append("\n")

    row("loaded", stamp(status.loadedAt))
    row("last reload", stamp(status.lastReloadAt))
    row("lines", str(status.policyLines))
    row("roles", ", ".join(status.roles))
    row("directory", status.policiesDir or NO_VALUE)
    if status.lastError:
        row("last error", stamp(status.lastErrorAt))
        text.append_text(safe(status.lastError, multiline=True, style="#ff5f5f"))
        text.append("\n")
    if status.usersFileError:
        text.append("users file: ", style="bold")
        text.append_text(safe(status.usersFileError, multiline=True, style="#ff5f5f"))
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
        self.status: ops.PolicyStatus | None = None

    def show(self, status: ops.PolicyStatus) -> None:
        """Show ``GET /system/policy``'s answer."""
        self.status = status
        self.update(policy_text(status))
