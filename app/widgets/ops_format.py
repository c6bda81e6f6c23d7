"""Text helpers shared by the monitor, queues and admin widgets.

Times arrive from the API as ISO 8601 UTC strings (or epoch milliseconds for
workers); the widgets show them in UTC, like the API and the logs, so what one
operator reads out to another is the same everywhere.  Statuses are always a
symbol *and* a word (the canvas's marks and colours), readable without colour.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from rich.text import Text

from app.canvas.glyphs import STATUS_COLOURS, STATUS_MARKS, UNKNOWN_STATUS_MARK

NO_VALUE = "—"


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or epoch milliseconds as an aware UTC datetime; None if neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def clock(value: Any, *, millis: bool = False) -> str:
    """``12:00:01`` (or ``12:00:01.250``) in UTC; ``—`` when there is no time."""
    when = parse_time(value)
    if when is None:
        return NO_VALUE
    when = when.astimezone(UTC)
    text = when.strftime("%H:%M:%S")
    return f"{text}.{when.microsecond // 1000:03d}" if millis else text


def stamp(value: Any) -> str:
    """``2024-01-01 12:00:01`` in UTC; ``—`` when there is no time."""
    when = parse_time(value)
    return NO_VALUE if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration_text(ms: Any) -> str:
    """A duration in milliseconds, short: ``250ms``, ``4.2s``, ``3m05s``, ``2h01m``."""
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms < 0:
        return NO_VALUE
    if ms < 1000:
        return f"{int(ms)}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def status_mark(status: str) -> str:
    """The status's one-cell symbol (``✓`` completed, ``✗`` failed...)."""
    return STATUS_MARKS.get(status, UNKNOWN_STATUS_MARK)


def status_text(status: str | None, *, word: bool = True) -> Text:
    """A status as its coloured symbol and, with ``word``, its name."""
    name = status or "unknown"
    label = f"{status_mark(name)} {name}" if word else status_mark(name)
    return Text(label, style=STATUS_COLOURS.get(name, ""))


def json_text(value: Any, *, max_chars: int = 2000) -> str:
    """``value`` as indented JSON, cut at ``max_chars`` with a note of how much was left out."""
    try:
        text = orjson.dumps(
            value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError:
        text = repr(value)
    if len(text) > max_chars:
        text = f"{text[:max_chars]}\n… ({len(text) - max_chars} more characters)"
    return text
