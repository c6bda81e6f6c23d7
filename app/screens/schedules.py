"""Schedules: each one's next fire, last outcome and state; pause, resume, trigger.

Refreshed every second while shown (``GET /schedules``, and for the highlighted one
``GET /schedules/{id}`` with its next 5 fires and last 20 outcomes).  ``p`` pauses the
highlighted schedule (asking for a note), ``r`` resumes it, ``t`` starts a run now;
a role without the permission sees the reason instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from app.screens.dialogs.text_input import InputDialog
from app.screens.ops_base import PollingScreen
from app.session import Session
from app.text import safe
from app.widgets.ops_format import stamp
from orchestrator.durations import format_duration
from orchestrator.spec.schedule import FireOutcome
from orchestrator.wire.triggers import Outcome, ScheduleView

READ, WRITE, TRIGGER = "schedule:read", "schedule:write", "workflow:execute"
ID_WIDTH, WORKFLOW_WIDTH, WHEN_WIDTH, OUTCOME_WIDTH = 32, 32, 36, 48
OUTCOME_STYLE: dict[str, str] = {
    FireOutcome.STARTED: "green",
    FireOutcome.TRIGGERED: "green",
    FireOutcome.BUFFERED: "yellow",
    FireOutcome.SKIPPED_OVERLAP: "yellow",
    FireOutcome.DEFERRED: "yellow",
    FireOutcome.SKIPPED_LIMIT: "red",
    FireOutcome.MISSED: "red",
    FireOutcome.FAILED: "bold red",
}


def when_text(s: ScheduleView) -> str:
    """``cron 0 2 * * * Europe/Berlin`` or ``every 30s``."""
    if s.cron:
        return f"cron {s.cron} {s.timezone or 'UTC'}"
    return "every ?" if s.every is None else f"every {format_duration(s.every)}"


def state_text(s: ScheduleView) -> Text:
    """Paused (yellow), ended (dim) or active (green)."""
    if s.paused:
        return Text("paused", style="bold yellow")
    if s.ended:
        return Text("ended", style="dim")
    return Text("active", style="green")


def outcome_text(o: Outcome | None, width: int = OUTCOME_WIDTH) -> Text:
    """``started run-… (completed)``, coloured by what happened."""
    if o is None:
        return Text("—", style="dim")
    words = [str(o.status)]
    if o.runId:
        words.append(o.runId)
    if o.runStatus:
        words.append(f"({o.runStatus})")
    if o.count:
        words.append(f"{o.count} fires")
    if o.reason:
        words.append(f"({o.reason})")
    text = safe(" ".join(words), width=width)
    text.stylize(OUTCOME_STYLE.get(o.status, ""))
    return text


class SchedulesScreen(PollingScreen):
    """Every schedule, and the highlighted one's fires and outcomes."""

    DEFAULT_CSS = """
    SchedulesScreen #schedule-table { height: 1fr; border: round $primary 60%; }
    SchedulesScreen #schedule-table:focus { border: round $primary; }
    SchedulesScreen #schedule-detail { height: 1fr; border: round $primary 60%; padding: 0 1; }
    SchedulesScreen #schedule-note { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause"),
        Binding("r", "resume", "Resume"),
        Binding("t", "trigger", "Trigger"),
        Binding("ctrl+r", "refresh", "Refresh"),
    ]

    def __init__(self, session: Session, **options: Any) -> None:
        """The schedules of ``session``'s API (``refresh_s`` and the screen's options)."""
        super().__init__(session, **options)
        self.schedules: list[ScheduleView] = []
        self.detail: ScheduleView | None = None

    def compose(self) -> ComposeResult:
        """The table over the highlighted schedule's detail."""
        yield Header(show_clock=False, icon="◈")
        yield DataTable(id="schedule-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="schedule-detail"):
            yield Static("", id="schedule-body")
        yield Static("", id="schedule-note")
        yield Footer()

    def on_mount(self) -> None:
        """Columns, titles, first load and the refresh timer."""
        self.sub_title = "Schedules"
        table = self.query_one(DataTable)
        for label in ("schedule", "workflow", "when", "state", "next fire (UTC)", "last outcome"):
            table.add_column(label, key=label)
        table.border_title = "Schedules"
        self.query_one("#schedule-detail").border_title = "Fires and outcomes"
        if reason := self.blocked(READ):
            self.query_one("#schedule-note", Static).update(safe(reason))
            return
        self.query_one("#schedule-note", Static).update(self._keys_line())
        self.start_polling()

    def _keys_line(self) -> Text:
        parts = []
        for key, perm, action in (("p", WRITE, "pause"), ("r", WRITE, "resume"),
                                  ("t", TRIGGER, "trigger")):  # fmt: skip
            reason = self.blocked(perm)
            parts.append(f"{key} {action}" + (f" (not available: {reason})" if reason else ""))
        return safe(" · ".join(parts), width=300)

    def selected_id(self) -> str | None:
        """The highlighted schedule's id."""
        row = self.query_one(DataTable).cursor_row
        return self.schedules[row].id if 0 <= row < len(self.schedules) else None

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        """``GET /schedules``, then the highlighted one's detail."""
        quiet = bool(self.schedules)
        rows = await self.api(self.session.client.list_schedules(), quiet=quiet)
        if rows is None:
            return
        self.show(rows)
        self.load_detail()

    @work(exclusive=True, group="detail")
    async def load_detail(self) -> None:
        """``GET /schedules/{id}`` of the highlighted schedule."""
        selected = self.selected_id()
        if selected is None:
            self.show_detail(None)
            return
        detail = await self.api(self.session.client.get_schedule(selected), quiet=True)
        if detail is not None and detail.id == self.selected_id():
            self.show_detail(detail)

    def show(self, rows: list[ScheduleView]) -> None:
        """Fill the table, keeping the highlighted schedule highlighted."""
        table = self.query_one(DataTable)
        keep = self.selected_id()
        self.schedules = rows
        table.clear()
        for s in rows:
            table.add_row(
                safe(s.id, width=ID_WIDTH),
                safe(s.workflow_id, width=WORKFLOW_WIDTH),
                safe(when_text(s), width=WHEN_WIDTH),
                state_text(s),
                safe(stamp(s.nextFireTime), width=20),
                outcome_text(s.lastOutcome),
                key=s.id,
            )
        ids = [s.id for s in rows]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        table.border_subtitle = safe(f"{len(rows)} schedule(s)")

    def show_detail(self, s: ScheduleView | None) -> None:
        """The highlighted schedule's note, next fires and last outcomes."""
        self.detail = s
        body = Text()
        if s is None:
            body.append("no schedules" if not self.schedules else "")
        else:
            body.append_text(safe(f"{s.id} → {s.workflow_id}", width=120))
            body.append(
                f"\ncatchup {s.catchup} · overlap {s.overlap} · version {s.version or 'newest'}\n"
            )
            if s.paused:
                body.append("paused: ", style="bold yellow")
                body.append_text(safe(s.note or "(no note)", multiline=True))
                body.append("\n")
            fires = [stamp(f) for f in s.nextFires]
            body.append("next fires: ", style="bold")
            body.append(", ".join(fires) if fires else "none")
            body.append("\nlast outcomes:", style="bold")
            for o in s.outcomes:
                body.append(f"\n  {stamp(o.fire)}  ")
                body.append_text(outcome_text(o, width=100))
                if o.error:
                    body.append("  ")
                    body.append_text(safe(o.error, width=120))
        self.query_one("#schedule-body", Static).update(body)

    @on(DataTable.RowHighlighted, "#schedule-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.detail is None or self.detail.id != self.selected_id():
            self.load_detail()

    # -- actions ---------------------------------------------------------------------------
    def _chosen(self, perm: str) -> str | None:
        if reason := self.blocked(perm):
            self.refuse(reason)
            return None
        sid = self.selected_id()
        if sid is None:
            self.refuse("there is no schedule to act on")
        return sid

    def action_pause(self) -> None:
        """Pause the highlighted schedule, with a note saying why."""
        sid = self._chosen(WRITE)
        if sid is None:
            return

        def noted(note: str | None) -> None:
            if note is not None:
                self.act("pause", sid, note)

        self.app.push_screen(
            InputDialog(f"Pause schedule {sid}", placeholder="why (shown with the schedule)"),
            noted,
        )

    def action_resume(self) -> None:
        """Resume the highlighted schedule from its next fire time."""
        if (sid := self._chosen(WRITE)) is not None:
            self.act("resume", sid)

    def action_trigger(self) -> None:
        """Start a run of the highlighted schedule now."""
        if (sid := self._chosen(TRIGGER)) is not None:
            self.act("trigger", sid)

    @work(group="action")
    async def act(self, what: str, schedule_id: str, note: str = "") -> None:
        """Pause, resume or trigger, then reload."""
        client = self.session.client
        if what == "pause":
            view = await self.api(client.pause_schedule(schedule_id, note))
        elif what == "resume":
            view = await self.api(client.resume_schedule(schedule_id))
        else:
            view = await self.api(client.trigger_schedule(schedule_id))
        if view is not None:
            done = {"pause": "paused", "resume": "resumed", "trigger": "triggered"}[what]
            self.notify(f"Schedule {schedule_id} {done}.", title="Schedules")
            self.show_detail(view)
        self.load()

    def action_refresh(self) -> None:
        """Reload now."""
        self.load()

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Schedule actions for the command palette."""
        yield self.command("Pause schedule", "Hold its fires, with a note (p)",
                           self.action_pause, self.blocked(WRITE))  # fmt: skip
        yield self.command("Resume schedule", "Fire again from the next fire time (r)",
                           self.action_resume, self.blocked(WRITE))  # fmt: skip
        yield self.command("Trigger schedule", "Start a run now (t)",
                           self.action_trigger, self.blocked(TRIGGER))  # fmt: skip
        yield SystemCommand("Refresh schedules", "Reload now (ctrl+r)", self.action_refresh)
