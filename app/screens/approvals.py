"""Approvals: every approval waiting for the signed-in user, oldest request first.

Refreshed every two seconds while shown (``GET /approvals``).  ``a`` approves and ``r``
rejects the highlighted one (a comment dialog first), Enter opens its run in the
Monitor, ``A`` shows every waiting approval instead of only yours.  The app's title
shows how many wait for you, from every screen (:mod:`app.approvals_badge`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from app.messages import OpenRun
from app.screens.approval_actions import CommentDialog
from app.screens.ops_base import PollingScreen
from app.session import Session
from app.text import safe
from app.widgets.approval_view import approval_lines
from app.widgets.ops_format import clock
from orchestrator.wire.ops import WaitingApprovalView


class ApprovalsScreen(PollingScreen):
    """The approvals waiting for a decision."""

    DEFAULT_CSS = """
    ApprovalsScreen #approvals-table { height: 1fr; border: round $primary 60%; }
    ApprovalsScreen #approval-detail { height: auto; max-height: 50%; border: round $primary 60%;
                                       padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide(True)", "Approve"),
        Binding("r", "decide(False)", "Reject"),
        Binding("enter", "open_run", "Open run"),
        Binding("A", "toggle_all", "Mine/all"),
        Binding("ctrl+r", "refresh", "Refresh"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        refresh_s: float = 2.0,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """The approvals of ``session``'s user, refreshed every ``refresh_s`` while shown."""
        super().__init__(session, refresh_s=refresh_s, name=name, id=id, classes=classes)
        self.rows: list[WaitingApprovalView] = []
        self.everyone = False

    def compose(self) -> ComposeResult:
        """The list over the highlighted approval's details."""
        yield Header(show_clock=False, icon="☑")
        yield DataTable(id="approvals-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="approval-detail"):
            yield Static("", id="approval-text")
        yield Footer()

    def on_mount(self) -> None:
        """Columns, titles, first load, and the refresh timer."""
        self.sub_title = "Approvals"
        table = self.query_one(DataTable)
        table.add_columns("Run", "Node", "Workflow", "Approvals", "Requested", "Deadline")
        self._title()
        self.start_polling()

    def _title(self) -> None:
        table = self.query_one(DataTable)
        mine = "every waiting approval" if self.everyone else "waiting for you"
        table.border_title = safe(f"Approvals {mine} ({len(self.rows)})")

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        """``GET /approvals`` (``?all=true`` with ``A``)."""
        if self.blocked("run:read"):
            self.query_one("#approval-text", Static).update(safe(self.blocked("run:read")))
            return
        rows = await self.api(self.session.client.approvals(everyone=self.everyone), quiet=True)
        if rows is None:
            return
        self.rows = rows
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        for r in rows:
            due = str(r.dueTime or "")[:16].replace("T", " ") or "—"
            table.add_row(
                safe(r.runId, width=28),
                safe(r.nodeId, width=24),
                safe(r.workflowName or r.workflowId, width=28),
                safe(f"{r.approvals}/{r.required}"),
                safe(clock(r.requestedTime)),
                safe(due),
            )
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))
        self._title()
        self._show_detail()

    def _current(self) -> WaitingApprovalView | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _show_detail(self, _event: object = None) -> None:
        row = self._current()
        text = self.query_one("#approval-text", Static)
        if row is None:
            text.update("No approval is waiting for you." if not self.everyone else "None.")
            return
        from rich.console import Group

        head = safe(f"{row.workflowName} · {row.runId} · {row.nodeId}", width=110)
        text.update(Group(head, *approval_lines(row)))

    def action_decide(self, approve: bool) -> None:
        """Approve or reject the highlighted approval (with a comment)."""
        if reason := self.blocked("run:approve"):
            self.refuse(reason)
            return
        row = self._current()
        if row is None:
            self.refuse("no approval is highlighted")
            return
        if not row.mayDecide:
            self.refuse(f"only {row.approvers.text} may decide it")
            return
        run_id, node_id = row.runId, row.nodeId
        word = "Approve" if approve else "Reject"

        def answered(comment: str | None) -> None:
            if comment is not None:
                self.decide(run_id, node_id, approve, comment)

        dialog = CommentDialog(f"{word} {node_id}", required=not approve, hint=row.message)
        self.app.push_screen(dialog, answered)

    @work(group="action")
    async def decide(self, run_id: str, node_id: str, approve: bool, comment: str) -> None:
        """``POST /runs/{id}/nodes/{node}/decision``."""
        client = self.session.client
        node = await self.api(client.decide(run_id, node_id, approve=approve, comment=comment))
        if node is not None:
            self.notify(f"{node_id} of {run_id}: {'approved' if approve else 'rejected'}.")
        self.load()

    def action_open_run(self) -> None:
        """Open the highlighted approval's run in the Monitor."""
        row = self._current()
        if row is not None:
            self.post_message(OpenRun(row.runId))

    def action_toggle_all(self) -> None:
        """Yours only, or every waiting approval."""
        self.everyone = not self.everyone
        self.load()

    def action_refresh(self) -> None:
        """Reload now."""
        self.load()

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Approvals actions for the command palette."""
        reason = self.blocked("run:approve")
        yield self.command("Approve", "Approve the highlighted approval (a)",
                           lambda: self.action_decide(True), reason)  # fmt: skip
        yield self.command("Reject", "Reject the highlighted approval (r)",
                           lambda: self.action_decide(False), reason)  # fmt: skip
        yield SystemCommand("Refresh approvals", "Reload now (ctrl+r)", self.action_refresh)
