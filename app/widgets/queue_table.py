"""Queue depths: one row per handler and lane, and a line per shard.

``backlog`` is every entry on the stream, ``waiting`` those no worker took yet,
``pending`` those delivered but not acknowledged (running, or held by a worker that
died: after the visibility timeout they are reclaimed, and dead-lettered after
``queue.max_deliveries``).  The shard line adds the inbox (results the orchestrator
has not applied yet), the timers (retries and delays) and the dead letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from app.text import safe
from orchestrator.cli.remote.queues import DepthRow, depth_rows
from orchestrator.wire.ops import Queues, ShardDepth

HANDLER_WIDTH = 48
LANE_WIDTH = 12
COUNT_WIDTH = 7
"""``backlog``, ``waiting``, ``pending``: the labels, and counts up to 9,999,999."""
MAX_WIDTH = (HANDLER_WIDTH + LANE_WIDTH + 3 * COUNT_WIDTH + len("lag")) + 6 * 2 + 2 + 2
"""The most the table can fill: its six columns with their padding, a scrollbar and a
border.  Beside the workers (Queues on a wide terminal) it takes no more, and the workers'
many columns get the rest of the row."""


def shard_text(shards: Sequence[ShardDepth]) -> Text:
    """``shard 0  inbox 0 · timers 2 · dead letters 1`` for each shard."""
    text = Text()
    for shard in shards:
        if text:
            text.append("\n")
        dlq = shard.dlq
        text.append_text(safe(f"shard {shard.shard}  ", style="bold"))
        text.append_text(safe(f"inbox {shard.inbox} · timers {shard.timers} · "))
        text.append(f"dead letters {dlq}", style="bold #ff5f5f" if dlq else "")
    return text or Text("no shards reported", style="dim")


def _count(value: int, *, warn: bool = False) -> Text:
    style = "dim" if value == 0 else ("bold #ffaf5f" if warn else "")
    return Text(str(value), style=style, justify="right")


class QueueTable(Vertical):
    """Depth per handler and lane, then the shards' inbox, timers and dead letters."""

    DEFAULT_CSS = f"""
    QueueTable {{ height: 1fr; max-width: {MAX_WIDTH}; }}
    QueueTable > DataTable {{ height: 1fr; }}
    QueueTable > #shards {{ height: auto; color: $text; }}
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty table."""
        super().__init__(id=id, classes=classes)
        self.rows: list[DepthRow] = []

    def compose(self) -> ComposeResult:
        """The depth table and the shard lines."""
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="depths")
        for label in ("handler", "lane", "backlog", "waiting", "pending", "lag"):
            table.add_column(label, key=label)
        yield table
        yield Static(shard_text([]), id="shards")

    def show(self, queues: Queues) -> None:
        """Show ``GET /queues``'s answer (keeps the cursor on the same row)."""
        table = self.query_one("#depths", DataTable)
        rows = depth_rows(queues.handlers)
        if rows != self.rows:
            self.rows = rows
            cursor = table.cursor_row
            table.clear()
            for handler, lane, length, waiting, pending, lag in rows:
                table.add_row(
                    safe(handler, width=HANDLER_WIDTH),
                    safe(lane, width=LANE_WIDTH),
                    _count(length),
                    _count(waiting, warn=True),
                    _count(pending),
                    Text("—" if lag is None else str(lag), justify="right", style="dim"),
                    key=f"{handler}/{lane}",
                )
            if rows:
                table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)
        self.query_one("#shards", Static).update(shard_text(queues.shards))
