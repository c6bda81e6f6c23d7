"""A run's Gantt chart as plain text, from the API's ``Gantt`` answer.

One row per node attempt on a shared time axis: ``░`` waiting in a queue, ``█``
executing, ``·`` backing off before the next attempt, ``~`` a delay node waiting,
``│`` a gateway settling in an instant.  Rows of the critical path are marked ``*``.
The monitor's Gantt view draws the same rows with colours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.cli.remote.render import duration
from orchestrator.engine.timeline import Outcome

QUEUE, RUN, BACKOFF, DELAY, INSTANT = "░", "█", "·", "~", "│"
_OUTCOME_MARK: dict[str, str] = {
    Outcome.FAILED: " ✗", Outcome.RETRYING: " ↻", Outcome.CANCELLED: " ⊘", Outcome.RUNNING: " …"
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Row:
    """One attempt drawn: its label, its cells, and whether it is on the critical path."""

    label: str
    cells: str
    critical: bool
    outcome: str
    segments: tuple[tuple[int, int, str], ...]
    """``(first column, last column + 1, glyph)`` of each drawn stretch."""


def _label(bar: Mapping[str, Any], epochs: int) -> str:
    label = str(bar["node"])
    if int(bar.get("attempt", 1)) > 1:
        label += f" #{bar['attempt']}"
    if epochs > 1:
        label += f" e{bar.get('epoch', 0)}"
    return label


def rows(gantt: Mapping[str, Any], width: int) -> list[Row]:
    """The chart's rows, ``width`` columns of time each."""
    total = max(1, int(gantt.get("duration_ms") or 0))
    width = max(10, width)

    def col(ms: int | None) -> int:
        return 0 if ms is None else min(width - 1, max(0, ms * width // total))

    epochs = len(gantt.get("epochs") or [0])
    out: list[Row] = []
    for bar in gantt.get("nodes", []):
        cells = [" "] * width
        segs: list[tuple[int, int, str]] = []

        def paint(a: int | None, b: int | None, glyph: str, cells: list[str] = cells,
                  segs: list[tuple[int, int, str]] = segs) -> None:  # fmt: skip
            if a is None or b is None:
                return
            lo, hi = col(a), max(col(a) + 1, col(b))
            for i in range(lo, min(hi, width)):
                cells[i] = glyph
            segs.append((lo, min(hi, width), glyph))

        q, s, e = bar.get("queued_ms"), bar.get("started_ms"), bar.get("ended_ms")
        end = e if e is not None else gantt.get("duration_ms")
        if bar.get("kind") == "gateway":
            paint(s, s, INSTANT)
        elif bar.get("kind") == "delay":
            paint(s, end, DELAY)
        else:
            paint(q, s if s is not None else end, QUEUE)
            paint(s, end, RUN)
        paint(e, bar.get("backoff_until_ms"), BACKOFF)
        out.append(
            Row(_label(bar, epochs), "".join(cells), bool(bar.get("critical")),
                str(bar.get("outcome", "")), tuple(segs))
        )  # fmt: skip
    return out


def draw(gantt: Mapping[str, Any], width: int = 100) -> list[str]:
    """The chart, its axis, the critical path with its parts, and the skipped nodes."""
    label_w = min(24, max([len(r.label) for r in rows(gantt, 10)] + [4]))
    chart_w = max(20, width - label_w - 6)
    lines: list[str] = []
    for row in rows(gantt, chart_w):
        mark = "*" if row.critical else " "
        lines.append(f"{mark} {row.label[:label_w]:<{label_w}} │{row.cells}│"
                     f"{_OUTCOME_MARK.get(row.outcome, '')}")  # fmt: skip
    total = int(gantt.get("duration_ms") or 0)
    end_label = duration(total) or "0ms"
    axis = "0" + " " * max(1, chart_w - len(end_label) - 1) + end_label
    lines.append(" " * (label_w + 3) + axis)
    lines.append(
        f"legend: {QUEUE} queued  {RUN} running  {BACKOFF} backoff  {DELAY} delay  "
        f"{INSTANT} gateway  * critical path"
    )
    lines += critical_lines(gantt)
    skipped = skipped_nodes(gantt)
    if skipped:
        lines.append("skipped: " + ", ".join(skipped))
    if not gantt.get("complete", True):
        lines.append(f"history complete from {gantt.get('completeFrom')} (older events trimmed)")
    return lines


def skipped_nodes(gantt: Mapping[str, Any]) -> list[str]:
    """The nodes the Gantt answer lists as skipped (drawn apart, without a bar)."""
    skipped: Sequence[Mapping[str, Any]] = gantt.get("skipped") or []
    return [str(s["node"]) for s in skipped]


def critical_lines(gantt: Mapping[str, Any]) -> list[str]:
    """The critical path, its total, its parts and the share of the run it explains."""
    cp = gantt.get("critical") or {}
    path = gantt.get("critical_path") or []
    if not path:
        return ["critical path: none (no node has finished)"]
    parts: Mapping[str, int] = cp.get("parts_ms") or {}
    shown = ", ".join(f"{k} {duration(v)}" for k, v in parts.items() if v)
    share = float(cp.get("share") or 0) * 100
    return [
        "critical path: " + " → ".join(map(str, path)),
        f"  total {duration(cp.get('total_ms'))} ({shown or 'no time'}); "
        f"explains {share:.0f}% of the run",
    ]
