"""The whole of what a table row had to cut: under the dead letters and the audit log.

A table cell ends a long reason or detail in ``…``; this panel shows the highlighted
row's texts whole (wrapped, scrollable), and only when one of them was cut, so a table
of short rows looks as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from app.text import safe, width_of


def cut_detail(fields: Sequence[tuple[str, object, int]]) -> Text | None:
    """``label value`` lines of every ``(label, value, width)`` when any value is wider
    than its column's ``width`` (so the table cut it); None when nothing was cut."""
    rows = [(label, value) for label, value, _ in fields if value not in (None, "")]
    if not any(width_of(value, width) > width for _, value, width in fields if value):
        return None
    text = Text()
    for n, (label, value) in enumerate(rows):
        if n:
            text.append("\n")
        text.append(f"{label} ", style="bold")
        text.append_text(safe(value, multiline=True))
    return text


class RowDetail(VerticalScroll):
    """A few wrapped lines with the highlighted row's long texts (hidden when none)."""

    DEFAULT_CSS = """
    RowDetail { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    RowDetail > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty, hidden panel."""
        super().__init__(id=id, classes=classes)
        self.text: str = ""
        self.display = False

    def compose(self) -> ComposeResult:
        """The body."""
        yield Static("", id="row-detail-body")

    def show(self, detail: Text | None) -> None:
        """Show ``detail`` (see :func:`cut_detail`), or hide the panel for None."""
        self.text = detail.plain if detail is not None else ""
        self.display = detail is not None
        self.query_one("#row-detail-body", Static).update(detail or "")
        self.scroll_home(animate=False)
