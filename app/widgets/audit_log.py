"""The audit log viewer: newest first, filtered by user and outcome, a page at a time.

The viewer keeps the paging cursor (the audit API pages with ``before=<entry id>``,
so "older" remembers where each page started and "newer" goes back) and posts
:class:`AuditLog.QueryChanged` whenever the user changes a filter or turns a page;
the screen fetches and hands the entries back with :meth:`AuditLog.show`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Select, Static

from app.text import safe
from app.widgets.ops_format import stamp
from app.widgets.row_detail import RowDetail, cut_detail
from orchestrator.vocab import AuditOutcome
from orchestrator.wire.ops import AuditEntry

OUTCOMES: tuple[AuditOutcome, ...] = tuple(AuditOutcome)
OUTCOME_STYLES: Mapping[str, str] = {
    AuditOutcome.ALLOWED: "#5fd75f",
    AuditOutcome.DENIED: "bold #ffaf5f",
    AuditOutcome.ERROR: "bold #ff5f5f",
    # A change whose writer died (or whose client left) before it said how it ended.
    AuditOutcome.INTERRUPTED: "bold #d7d75f",
}
PAGE_SIZE = 50
USER_WIDTH = 24
ACTION_WIDTH = 32
RESOURCE_WIDTH = 40
DETAIL_WIDTH = 60
OUTCOME_WIDTH = 16
PAGER_WIDTH = 200


def audit_detail(entry: AuditEntry) -> Text | None:
    """The entry's texts whole when its row cut one (see :func:`cut_detail`)."""
    return cut_detail(
        [
            ("user", entry.user, USER_WIDTH),
            ("action", entry.action, ACTION_WIDTH),
            ("resource", entry.resource, RESOURCE_WIDTH),
            ("outcome", entry.outcome, OUTCOME_WIDTH),
            ("detail", entry.detail, DETAIL_WIDTH),
        ]
    )


def audit_cells(entry: AuditEntry) -> tuple[Any, ...]:
    """One entry's row (pure)."""
    outcome, status = entry.outcome, entry.status
    return (
        stamp(entry.time),
        safe(entry.user or "—", width=USER_WIDTH),
        safe(entry.action, width=ACTION_WIDTH),
        safe(entry.resource, width=RESOURCE_WIDTH),
        safe(outcome, width=OUTCOME_WIDTH, style=OUTCOME_STYLES.get(outcome, "")),
        Text("" if status is None else str(status), justify="right"),
        safe(entry.detail or "", width=DETAIL_WIDTH),
    )


class AuditLog(Vertical):
    """Filters, the entries table and the pager (``[`` newer, ``]`` older)."""

    DEFAULT_CSS = """
    AuditLog { height: 1fr; }
    AuditLog > #audit-filters { height: 1; margin: 0 0 1 0; }
    AuditLog #audit-user { width: 1fr; }
    AuditLog #audit-outcome { width: 20; margin: 0 0 0 1; }
    AuditLog > DataTable { height: 1fr; }
    AuditLog > #audit-pager { height: 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "page(-1)", "Newer", show=False),
        Binding("right_square_bracket", "page(1)", "Older", show=False),
    ]

    @dataclass
    class QueryChanged(Message):
        """Fetch entries by ``user`` and ``outcome`` older than ``before`` (None: newest)."""

        audit_log: AuditLog
        user: str | None
        outcome: str | None
        before: str | None

        @property
        def control(self) -> AuditLog:
            """The viewer that sent the message."""
            return self.audit_log

    def __init__(
        self, *, page_size: int = PAGE_SIZE, id: str | None = None, classes: str | None = None
    ) -> None:
        """An empty viewer."""
        super().__init__(id=id, classes=classes)
        self.page_size = page_size
        self.user: str | None = None
        self.outcome: str | None = None
        self.before: str | None = None
        self._starts: list[str | None] = []
        """``before`` of each newer page, to go back."""
        self.entries: list[AuditEntry] = []
        self.has_more = False

    def compose(self) -> ComposeResult:
        """Filters, table, pager."""
        with Horizontal(id="audit-filters"):
            yield Input(placeholder="filter by user (enter)", compact=True, id="audit-user")
            yield Select(
                [(o, o) for o in OUTCOMES], prompt="every outcome", compact=True, id="audit-outcome"
            )
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="audit-table")
        for label in ("time (UTC)", "user", "action", "resource", "outcome", "http", "detail"):
            table.add_column(label, key=label)
        yield table
        yield RowDetail(id="audit-detail")
        yield Static("", id="audit-pager")

    def current_query(self) -> AuditLog.QueryChanged:
        """The current query as a message (what the screen fetches on first show)."""
        return self.QueryChanged(self, self.user, self.outcome, self.before)

    def _changed(self) -> None:
        self.post_message(self.current_query())

    @on(Input.Submitted, "#audit-user")
    def _user(self, event: Input.Submitted) -> None:
        event.stop()
        user = event.value.strip() or None
        if user != self.user:
            self.user, self.before, self._starts = user, None, []
            self._changed()

    @on(Select.Changed, "#audit-outcome")
    def _outcome(self, event: Select.Changed) -> None:
        event.stop()
        outcome = event.value if isinstance(event.value, str) else None
        if outcome != self.outcome:
            self.outcome, self.before, self._starts = outcome, None, []
            self._changed()

    def _show_detail(self) -> None:
        row = self.query_one("#audit-table", DataTable).cursor_row
        entry = self.entries[row] if 0 <= row < len(self.entries) else None
        self.query_one(RowDetail).show(audit_detail(entry) if entry is not None else None)

    @on(DataTable.RowHighlighted, "#audit-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def action_page(self, step: int) -> None:
        """Turn to the older (+1) or newer (-1) page."""
        if step > 0 and self.has_more and self.entries:
            self._starts.append(self.before)
            self.before = self.entries[-1].id
            self._changed()
        elif step < 0 and self._starts:
            self.before = self._starts.pop()
            self._changed()

    def show(self, entries: Sequence[AuditEntry]) -> None:
        """Show one page of entries, newest first (a full page means there may be more)."""
        self.entries = list(entries)
        self.has_more = len(self.entries) >= self.page_size
        table = self.query_one("#audit-table", DataTable)
        table.clear()
        for n, entry in enumerate(self.entries):
            table.add_row(*audit_cells(entry), key=entry.id or str(n))
        self._show_detail()
        page = len(self._starts) + 1
        hints = [h for h, ok in (("[ newer", bool(self._starts)), ("] older", self.has_more)) if ok]
        filters = [f"user={self.user}"] * bool(self.user) + [f"outcome={self.outcome}"] * bool(
            self.outcome
        )
        # The filter is what the admin typed: plain text, never markup.
        self.query_one("#audit-pager", Static).update(
            safe(
                f"page {page} · {len(self.entries)} entries"
                + (f" · {' '.join(filters)}" if filters else "")
                + ("  " + "  ".join(hints) if hints else ""),
                width=PAGER_WIDTH,
            )
        )
