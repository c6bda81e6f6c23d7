"""A map node in the monitor: its progress badge and the dialog listing its items.

The canvas draws :func:`progress_badge` on a map node's bottom border; Enter on the
node opens :class:`MapItemsDialog`, which reads one page of items at a time from
``GET /runs/{id}/nodes/{node}/items`` (``f`` shows only the failed ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from app.screens.dialogs.base import Dialog
from app.session import Session
from app.text import safe
from app.widgets.ops_format import status_text
from orchestrator.errors import DagqError
from orchestrator.vocab import NodeStatus
from orchestrator.wire.runs import ItemView, NodeStatusView

PAGE = 200
"""Items one page of the dialog shows."""
BAR_CELLS = 5


def progress_counts(progress: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """``(settled, total, failed, in flight)`` of a node view's ``progress``."""
    done, failed = int(progress.get("done", 0)), int(progress.get("failed", 0))
    return done + failed, int(progress.get("total", 0)), failed, int(progress.get("inFlight", 0))


def progress_badge(progress: Mapping[str, Any]) -> str:
    """``✗2 ██░░░ 37/100``: failed items, a bar and the settled count (the count last, so a
    narrow box keeps it)."""
    settled, total, failed, _ = progress_counts(progress)
    filled = BAR_CELLS if total == 0 else settled * BAR_CELLS // total
    bar = "█" * filled + "░" * (BAR_CELLS - filled)
    lead = f"✗{failed} " if failed else ""
    return f"{lead}{bar} {settled}/{total}"


def progress_line(progress: Mapping[str, Any]) -> str:
    """``37/100 (2 failed, 4 in flight)``, the node panel's words."""
    settled, total, failed, active = progress_counts(progress)
    return f"{settled}/{total} ({failed} failed, {active} in flight)"


def map_badges(nodes: Mapping[str, NodeStatusView]) -> dict[str, str]:
    """Badges of the map nodes of a run view's ``nodes``."""
    return {
        node_id: progress_badge(node.progress) for node_id, node in nodes.items() if node.progress
    }


def item_row(item: ItemView) -> tuple[Text, Text, Text, Text]:
    """``(index, status, attempts, error or output)`` cells of one item."""
    detail = item.error or item.output
    return (
        Text(str(item.index)),
        status_text(item.status),
        Text(str(item.attempts)),
        safe("" if detail is None else str(detail), width=80),
    )


class MapItemsDialog(Dialog[None]):
    """The items of one map node of a run: status, attempts, error (or output)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_failed", "Failed only"),
        Binding("n", "next_page", "Next page"),
    ]
    DEFAULT_CSS = """
    MapItemsDialog > .panel { width: 110; }
    MapItemsDialog DataTable { height: auto; max-height: 24; }
    """

    def __init__(self, session: Session, run_id: str, node_id: str) -> None:
        super().__init__()
        self.session = session
        self.run_id = run_id
        self.node_id = node_id
        self.failed_only = False
        self.first_index = 0
        self.total = 0

    def compose(self) -> ComposeResult:
        """The items table and a line of counts and keys."""
        with Vertical(classes="panel") as panel:
            panel.border_title = safe(f"Items of {self.node_id}", width=64)
            table: DataTable[Text] = DataTable(id="items", cursor_type="row", zebra_stripes=True)
            table.add_columns("#", "status", "attempts", "error / output")
            yield table
            yield Static("loading…", classes="hint", id="items-hint")

    def on_mount(self) -> None:
        """Load the first page."""
        self.load()

    def action_toggle_failed(self) -> None:
        """Show only the failed items, or all of them again."""
        self.failed_only = not self.failed_only
        self.first_index = 0
        self.load()

    def action_next_page(self) -> None:
        """The next page of items (back to the first after the last)."""
        self.first_index = self.first_index + PAGE if self.first_index + PAGE < self.total else 0
        self.load()

    @work(exclusive=True, group="items")
    async def load(self) -> None:
        """Fetch the current page and show it."""
        status = NodeStatus.FAILED.value if self.failed_only else None
        hint = self.query_one("#items-hint", Static)
        try:
            page = await self.session.call(
                self.session.client.map_items(
                    self.run_id, self.node_id, status=status, offset=self.first_index, limit=PAGE
                )
            )
        except DagqError as exc:
            hint.update(safe(exc.message, width=200))
            return
        self.total = page.total
        table: DataTable[Text] = self.query_one("#items", DataTable)
        table.clear()
        for item in page.items:
            table.add_row(*item_row(item), key=str(item.index))
        shown = len(page.items)
        which = "failed items" if self.failed_only else "items"
        first = self.first_index + 1 if shown else 0
        counts = progress_line(page.progress or {})
        hint.update(
            safe(
                f"{first}-{self.first_index + shown} of {self.total} {which} · {counts} · "
                "f: failed only · n: next page · esc: close"
            )
        )
