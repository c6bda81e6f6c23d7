"""The dead-letter stream: jobs that were delivered too often (or could not be read), and
inbox messages (results, timers) the orchestrators failed to apply too often.

Rows can be marked with space; the screen requeues or purges the marked letters, or
the highlighted one when none is marked (:meth:`DeadLetters.chosen`).  For a role
that may not list dead letters the table is replaced by the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from app.text import safe
from app.widgets.ops_format import clock
from app.widgets.row_detail import cut_detail
from orchestrator.wire.ops import DeadLetter

MARK = "●"
REASON_WIDTH = 48
ID_WIDTH = 32
STREAM_WIDTH = 1_000
"""Not a column: the stream is shown with a letter's details, never cut by itself."""


def handler_cell(letter: DeadLetter) -> str:
    """The job's handler; for an inbox letter, ``inbox: <message type>``."""
    if letter.source == "inbox":
        return f"inbox: {letter.messageType or 'unreadable'}"
    return letter.handler or "—"


@dataclass(frozen=True, slots=True)
class LetterRef:
    """Which dead letter: its shard and its entry id on that shard's stream."""

    shard: int
    id: str


class DeadLetters(DataTable[Any]):
    """Dead letters, oldest first; space marks a row."""

    DEFAULT_CSS = """
    DeadLetters { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Mark", show=True),
    ]

    @dataclass
    class MarksChanged(Message):
        """The set of marked letters changed."""

        dead_letters: DeadLetters
        count: int

        @property
        def control(self) -> DeadLetters:
            """The table that sent the message."""
            return self.dead_letters

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty table."""
        super().__init__(cursor_type="row", zebra_stripes=True, id=id, classes=classes)
        self.letters: dict[str, DeadLetter] = {}
        self.marked: set[str] = set()
        self.message: str | None = None

    def on_mount(self) -> None:
        """Columns."""
        for label in (" ", "when", "run", "node", "handler", "tries", "reason"):
            self.add_column(label, key=label)

    @staticmethod
    def _key(letter: DeadLetter) -> str:
        return f"{letter.shard}/{letter.id}"

    def show(self, letters: Sequence[DeadLetter]) -> None:
        """Show ``GET /queues/dead-letters``'s letters (marks on letters still there stay)."""
        fresh = {self._key(x): x for x in letters}
        if self.message is None and fresh.keys() == self.letters.keys() and self.row_count:
            return
        self.message = None
        cursor = self.cursor_row
        self.letters = fresh
        self.marked &= set(fresh)
        self.clear()
        for key, letter in fresh.items():
            self.add_row(*self._cells(key, letter), key=key)
        if fresh:
            self.move_cursor(row=min(cursor, len(fresh) - 1), animate=False)

    def _cells(self, key: str, letter: DeadLetter) -> tuple[Any, ...]:
        return (
            Text(MARK if key in self.marked else " ", style="bold #ffaf5f"),
            clock(letter.atMs),
            safe(letter.runId or "—", width=ID_WIDTH),
            safe(letter.nodeId or "—", width=ID_WIDTH),
            safe(handler_cell(letter), width=ID_WIDTH),
            Text(str(letter.deliveries), justify="right"),
            safe(letter.reason, width=REASON_WIDTH, style="#ff5f5f"),
        )

    def highlighted_key(self) -> str | None:
        """The key of the letter under the cursor, if any."""
        if not self.letters or not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key in self.letters else None

    def detail(self, key: str | None) -> Text | None:
        """The letter's texts whole when the table cut one (see :func:`cut_detail`)."""
        letter = self.letters.get(key or "")
        if letter is None:
            return None
        return cut_detail(
            [
                ("reason", letter.reason, REASON_WIDTH),
                ("run", letter.runId, ID_WIDTH),
                ("node", letter.nodeId, ID_WIDTH),
                ("handler", handler_cell(letter), ID_WIDTH),
                ("stream", letter.stream, STREAM_WIDTH),
            ]
        )

    def show_message(self, text: str) -> None:
        """Replace the letters with ``text`` (the role may not see them)."""
        self.message = text
        self.letters, self.marked = {}, set()
        self.clear()
        message = safe(text, width=300, style="italic")
        self.add_row(Text(" "), message, "", "", "", "", "", key="message")

    def action_toggle_mark(self) -> None:
        """Mark or unmark the highlighted letter."""
        if not self.letters or not self.row_count:
            return
        key = str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        if key not in self.letters:
            return
        self.marked ^= {key}
        self.update_cell(key, " ", Text(MARK if key in self.marked else " ", style="bold #ffaf5f"))
        self.post_message(self.MarksChanged(self, len(self.marked)))

    def chosen(self) -> list[LetterRef]:
        """The marked letters, else the highlighted one (empty when there is none)."""
        keys = [k for k in self.letters if k in self.marked]
        if not keys and self.letters and self.row_count:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
            keys = [str(key)] if key in self.letters else []
        refs = []
        for key in keys:
            letter = self.letters[key]
            refs.append(LetterRef(letter.shard, letter.id))
        return refs
