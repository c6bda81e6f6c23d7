"""The designer's status line: ``Status: Valid ✓  Nodes: N  Edges: M`` and what is going on."""

from __future__ import annotations

from textual.widgets import Static

from app.text import safe


def status_text(errors: int, nodes: int, edges: int) -> str:
    """``Status: Valid ✓  Nodes: 7  Edges: 7``, or ``Status: 2 errors ✗  Nodes: ...``."""
    state = "Valid ✓" if errors == 0 else f"{errors} error{'s' if errors != 1 else ''} ✗"
    return f"Status: {state}  Nodes: {nodes}  Edges: {edges}"


class StatusLine(Static):
    """One line under the canvas; red while the design has errors."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; color: $success; }
    StatusLine.-invalid { color: $error; }
    """

    def show(self, errors: int, nodes: int, edges: int, note: str = "") -> None:
        """Show the counts, and ``note`` (modified, read-only, connecting...) after them."""
        text = status_text(errors, nodes, edges)
        self.set_class(errors > 0, "-invalid")
        # The note can name a node: plain text, never markup.
        self.update(safe(f"{text}  {note}" if note else text))
