"""The followed run's events, one line each, newest at the bottom.

Each line reads ``12:00:01.250 ✓ node_completed   fetch_data  attempt 1``: the time
(UTC), the status the event implies as a symbol, the type, the node and what the
event carries that matters (the error, the worker, the handler...).  Events of a
saga's compensation path are marked ``↺`` and highlighted so the way back stands out.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from app.canvas.glyphs import STATUS_COLOURS
from app.live import run_status_from_event, status_from_event
from app.text import safe
from app.widgets.ops_format import clock, status_mark
from orchestrator.vocab import COMPENSATION_EVENTS, EventType
from orchestrator.wire.runs import RunEvent

COMPENSATION_STYLE = "bold #ffaf5f"
TYPE_WIDTH = 19
NODE_WIDTH = 18
DETAIL_WIDTH = 300
"""Cells of an event's detail: an error longer than that ends in ``…`` here (the node
details show it whole)."""
_DETAIL_KEYS = ("error", "reason", "worker", "handler", "compensation", "fromNode", "nodes")


def event_detail(event: RunEvent) -> str:
    """The interesting part of an event's data, as short ``key value`` text."""
    data = event.data
    parts: list[str] = []
    attempt = data.get("attempt")
    if isinstance(attempt, int) and not isinstance(attempt, bool):
        parts.append(f"attempt {attempt}")
    for key in _DETAIL_KEYS:
        value = data.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key} {value}" if key != "error" else str(value))
    if isinstance(data.get("delayMs"), int):
        parts.append(f"retry in {data['delayMs'] / 1000:g}s")
    if data.get("late"):
        parts.append("(late result)")
    return "  ".join(parts)


_FAILURES = frozenset({EventType.NODE_FAILED, EventType.RUN_FAILED, EventType.NODE_RETRYING})


def event_line(event: RunEvent) -> Text:
    """One event as a log line (pure: the tests read it)."""
    kind = event.type
    implied = status_from_event(event)
    status = implied[1] if implied else run_status_from_event(event)
    compensation = kind in COMPENSATION_EVENTS
    mark = "↺" if compensation else status_mark(status) if status else "·"
    line = Text(clock(event.timestamp, millis=True) + " ", style="dim")
    line.append(f"{mark} ", style=STATUS_COLOURS.get(status or "", ""))
    style = COMPENSATION_STYLE if compensation else "bold"
    line.append_text(_column(kind, TYPE_WIDTH, style, cut=TYPE_WIDTH * 2))
    line.append_text(_column(event.nodeId or "", NODE_WIDTH))
    detail = event_detail(event)
    if detail:
        style = "#ff5f5f" if kind in _FAILURES else ""
        line.append_text(safe(detail, width=DETAIL_WIDTH, style=style))
    return line


def _column(value: object, width: int, style: str = "", *, cut: int | None = None) -> Text:
    """``value`` padded to ``width`` cells (cut at ``cut``, by default ``width``), then a space."""
    text = safe(value, width=cut or width, style=style)
    text.append(" " * (max(0, width - text.cell_len) + 1))
    return text


class EventLog(RichLog):
    """A run's event log (no wrapping: one event, one line; scroll sideways for more)."""

    DEFAULT_CSS = """
    EventLog { height: 1fr; background: $surface; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty log keeping the newest 5,000 lines."""
        super().__init__(
            max_lines=5000, wrap=False, markup=False, auto_scroll=True, id=id, classes=classes
        )
        self.entries: list[tuple[str, str | None]] = []
        """``(type, node id)`` of every event shown, in order (what tests read)."""

    @property
    def types(self) -> list[str]:
        """The type of every event shown, in order."""
        return [kind for kind, _ in self.entries]

    def add(self, event: RunEvent) -> None:
        """Append one event."""
        self.entries.append((event.type, event.nodeId or None))
        self.write(event_line(event))

    def reset(self, note: str | None = None) -> None:
        """Empty the log (another run was selected), optionally with a note line."""
        self.clear()
        self.entries = []
        if note:
            self.write(Text(note, style="dim italic"))
