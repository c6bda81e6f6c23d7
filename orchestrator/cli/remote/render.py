"""Text rendering shared by the remote commands: aligned tables, times, durations, issues.

Pure functions over the API's JSON, so they are tested without a server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from orchestrator.wire.base import Wire


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Rows as left-aligned columns under upper-case ``headers`` (no trailing spaces)."""
    cells = [[str(h).upper() for h in headers]]
    cells += [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> None:
    """Print a table, or ``empty`` when there are no rows."""
    click.echo(table(headers, rows) if rows else empty)


def echo_json(data: Any) -> None:
    """Machine output: indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_plain))


def _plain(value: object) -> object:
    # An answer of the API prints as the JSON the server sent.
    return value.as_json() if isinstance(value, Wire) else str(value)


def duration(ms: int | float | None) -> str:
    """``350ms``, ``1.2s``, ``2m03s``, ``1h05m``; empty when unknown."""
    if ms is None:
        return ""
    ms = max(0, int(ms))
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time from the API (``Z`` or an offset); None when missing or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def when(value: str | None) -> str:
    """An API time as local ``YYYY-MM-DD HH:MM:SS`` (what a person reads in a table)."""
    moment = parse_time(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else (value or "")


def clock(value: str | None) -> str:
    """An API time as local ``HH:MM:SS.mmm`` (event lines)."""
    moment = parse_time(value)
    if moment is None:
        return (value or "")[:12].ljust(12)
    local = moment.astimezone()
    return local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def shorten(text: object, width: int = 60) -> str:
    """One line of at most ``width`` characters (errors can be long tracebacks)."""
    line = " ".join(str(text or "").split())
    return line if len(line) <= width else line[: width - 1] + "…"


def issue_line(mark: str, issue: Mapping[str, Any]) -> str:
    """One validator issue (the API's camelCase form) as ``  ✗ CODE [node] message``."""
    where = issue.get("nodeId") or issue.get("edgeId") or issue.get("path")
    hint = f" (suggestion: {issue['suggestion']})" if issue.get("suggestion") else ""
    place = f" [{where}]" if where else ""
    return f"  {mark} {issue.get('code', '?')}{place} {issue.get('message', '')}{hint}"


def issue_lines(errors: object, warnings: object = ()) -> list[str]:
    """Validator errors (✗) then warnings (!), skipping anything that is not an issue object."""
    out = [issue_line("✗", e) for e in _dicts(errors)]
    return out + [issue_line("!", w) for w in _dicts(warnings)]


def _dicts(items: object) -> list[Mapping[str, Any]]:
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, Mapping)]
