"""Queues: depth per lane and handler, live workers, and the dead-letter stream.

Refreshed every second while shown (``GET /queues``, and for admins ``GET
/queues/dead-letters``).  Admins requeue (``r``) or purge (``p``, after a
confirmation: the attempts fail) the marked dead letters, or the highlighted one;
other roles see the letters' count, and the actions disabled with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, Header, Static

from app.screens.ops_base import PollingScreen, confirm_then
from app.session import Session
from app.text import safe
from app.widgets.dead_letters import DeadLetters, LetterRef
from app.widgets.queue_table import QueueTable
from app.widgets.row_detail import RowDetail
from app.widgets.workers_table import WorkersTable, totals
from orchestrator.wire.ops import Queues

ADMIN_PERMISSION = "system:configure"


class QueuesScreen(PollingScreen):
    """The queues, their workers and their dead letters."""

    CSS_PATH = "queues.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "requeue", "Requeue"),
        Binding("p", "purge", "Purge"),
        Binding("ctrl+r", "refresh", "Refresh"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        refresh_s: float = 1.0,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """The queues of ``session``'s API, refreshed every ``refresh_s`` while shown."""
        super().__init__(session, refresh_s=refresh_s, name=name, id=id, classes=classes)
        self.queues: Queues | None = None

    def compose(self) -> ComposeResult:
        """Queues | workers over the dead letters."""
        yield Header(show_clock=False, icon="◈")
        with Horizontal(id="queues-top"):
            yield QueueTable(id="queue-table")
            yield WorkersTable(id="workers-table")
        with Vertical(id="dead-pane"):
            yield DeadLetters(id="dead-letters")
            yield RowDetail(id="dead-detail")
            with Horizontal(id="dead-actions"):
                yield Button("Requeue", id="requeue", compact=True, variant="primary")
                yield Button("Purge", id="purge", compact=True, variant="error")
                yield Static("", id="dead-note")
        yield Footer()

    def on_mount(self) -> None:
        """Titles, first load, and the refresh timer."""
        self.sub_title = "Queues"
        self.query_one("#queue-table").border_title = "Queues"
        self.query_one("#workers-table").border_title = "Live workers"
        self.query_one("#dead-pane").border_title = "Dead letters"
        self._update_actions()
        if reason := self.blocked("run:read"):
            self.query_one("#dead-note", Static).update(safe(reason))
            self.notify(reason, title="Not available", severity="warning")
            return
        self.start_polling()

    @property
    def dead_letters(self) -> DeadLetters:
        """The dead-letter table."""
        return self.query_one(DeadLetters)

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        """``GET /queues`` (and the dead letters, for admins)."""
        quiet = self.queues is not None  # a failing background refresh says it once
        answer = await self.api(self.session.client.queues(), quiet=quiet)
        if answer is None:
            return
        self.queues = answer
        self.query_one(QueueTable).show(answer)
        self.query_one(WorkersTable).show(answer.workers)
        live = len(answer.workers)
        room = totals(answer.workers)
        subtitle = f"{room} · {live} live" if room else f"{live} live"
        self.query_one("#workers-table").border_subtitle = safe(subtitle)
        count = answer.deadLetters
        self.query_one("#dead-pane").border_title = safe(f"Dead letters ({count})")
        if reason := self.blocked(ADMIN_PERMISSION):
            self.dead_letters.show_message(f"{count} dead letter(s); listing them: {reason}")
        else:
            letters = await self.api(self.session.client.dead_letters(limit=200), quiet=quiet)
            if letters is not None:
                self.dead_letters.show(letters)
        self._show_letter_detail()
        self._update_actions()

    def _show_letter_detail(self) -> None:
        """The highlighted letter's reason (and ids) whole, when the table cut them."""
        letters = self.dead_letters
        self.query_one(RowDetail).show(letters.detail(letters.highlighted_key()))

    @on(DataTable.RowHighlighted, "#dead-letters")
    def _letter_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_letter_detail()

    # -- actions ---------------------------------------------------------------------------
    def _reason(self) -> str:
        if reason := self.blocked(ADMIN_PERMISSION):
            return reason
        if not self.dead_letters.letters:
            return "there are no dead letters"
        return ""

    def _update_actions(self) -> None:
        reason = self._reason()
        for button in self.query("#dead-actions Button").results(Button):
            button.disabled = bool(reason)
            button.tooltip = safe(reason) if reason else None
        marked = len(self.dead_letters.marked)
        note = reason or (
            f"{marked} marked (space marks)" if marked else "acts on the highlighted letter"
        )
        self.query_one("#dead-note", Static).update(safe(note))

    @on(DeadLetters.MarksChanged)
    def _marks_changed(self, message: DeadLetters.MarksChanged) -> None:
        self._update_actions()

    @on(Button.Pressed, "#dead-actions Button")
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "requeue":
            self.action_requeue()
        else:
            self.action_purge()

    def action_requeue(self) -> None:
        """Put the chosen dead letters back on their queues, after a confirmation."""
        self._ask("requeue", "Requeue {n} dead letter(s)? Their handlers run again.", "Requeue")

    def action_purge(self) -> None:
        """Delete the chosen dead letters (their attempts fail), after a confirmation."""
        question = "Purge {n} dead letter(s)? Their attempts fail (the runs move on or fail)."
        self._ask("purge", question, "Purge")

    def _ask(self, what: str, question: str, yes: str) -> None:
        """Ask ``question`` (``{n}``: how many letters) before :meth:`apply` does ``what``."""
        if reason := self._reason():
            self.refuse(reason)
            return
        chosen = self.dead_letters.chosen()
        confirm_then(
            self,
            question.format(n=len(chosen)),
            lambda: self.apply(what, chosen),
            yes=yes,
            no="Keep as is",
        )

    @work(group="action")
    async def apply(self, what: str, chosen: list[LetterRef]) -> None:
        """Requeue or purge ``chosen``, one request per shard."""
        by_shard: dict[int, list[str]] = defaultdict(list)
        for ref in chosen:
            by_shard[ref.shard].append(ref.id)
        client = self.session.client
        done = 0
        for shard, ids in sorted(by_shard.items()):
            call = client.requeue_dead if what == "requeue" else client.purge_dead
            moved = await self.api(call(ids, shard=shard))
            done += moved or 0
        verb = "requeued" if what == "requeue" else "purged"
        self.notify(f"{done} dead letter(s) {verb}.", title="Dead letters")
        self.dead_letters.marked.clear()
        self.load()

    def action_refresh(self) -> None:
        """Reload now."""
        self.load()

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Queue actions for the command palette."""
        reason = self._reason()
        yield self.command(
            "Requeue dead letters", "Put the marked (or highlighted) letters back (r)",
            self.action_requeue, reason,
        )  # fmt: skip
        yield self.command(
            "Purge dead letters", "Delete the marked (or highlighted) letters (p)",
            self.action_purge, reason,
        )  # fmt: skip
        yield SystemCommand("Refresh queues", "Reload now (ctrl+r)", self.action_refresh)
