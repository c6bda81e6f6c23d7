"""A run's Gantt chart as plain text, from the API's ``Gantt`` answer.

One row per node attempt on a shared time axis: ``░`` waiting in a queue, ``█``
executing, ``·`` backing off before the next attempt, ``~`` a delay node waiting,
``│`` a gateway settling in an instant.  Rows of the critical path are marked ``*``.
The monitor's Gantt view draws the same rows with colours.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.cli.remote.render import duration
from orchestrator.engine.timeline import Outcome
from orchestrator.wire.ops import Gantt, GanttBar

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


def _label(bar: GanttBar, epochs: int) -> str:
    label = bar.node
    if bar.attempt > 1:
        label += f" #{bar.attempt}"
    if epochs > 1:
        label += f" e{bar.epoch}"
    return label


def rows(gantt: Gantt, width: int) -> list[Row]:
    """The chart's rows, ``width`` columns of time each."""
    total = max(1, gantt.duration_ms)
    width = max(10, width)

    def col(ms: int | None) -> int:
        return 0 if ms is None else min(width - 1, max(0, ms * width // total))

    epochs = len(gantt.epochs or [0])
    out: list[Row] = []
    for bar in gantt.nodes:
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

        q, s, e = bar.queued_ms, bar.started_ms, bar.ended_ms
        end = e if e is not None else gantt.duration_ms
        if bar.kind == "gateway":
            paint(s, s, INSTANT)
        elif bar.kind == "delay":
            paint(s, end, DELAY)
        else:
            paint(q, s if s is not None else end, QUEUE)
            paint(s, end, RUN)
        paint(e, bar.backoff_until_ms, BACKOFF)
        out.append(Row(_label(bar, epochs), "".join(cells), bar.critical, bar.outcome, tuple(segs)))
    return out


def draw(gantt: Gantt, width: int = 100) -> list[str]:
    """The chart, its axis, the critical path with its parts, and the skipped nodes."""
    label_w = min(24, max([len(r.label) for r in rows(gantt, 10)] + [4]))
    chart_w = max(20, width - label_w - 6)
    lines: list[str] = []
    for row in rows(gantt, chart_w):
        mark = "*" if row.critical else " "
        lines.append(f"{mark} {row.label[:label_w]:<{label_w}} │{row.cells}│"
                     f"{_OUTCOME_MARK.get(row.outcome, '')}")  # fmt: skip
    total = gantt.duration_ms
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
    if not gantt.complete:
        lines.append(f"history complete from {gantt.completeFrom} (older events trimmed)")
    return lines


def skipped_nodes(gantt: Gantt) -> list[str]:
    """The nodes the Gantt answer lists as skipped (drawn apart, without a bar)."""
    return [s.node for s in gantt.skipped]


def critical_lines(gantt: Gantt) -> list[str]:
    """The critical path, its total, its parts and the share of the run it explains."""
    cp = gantt.critical
    path = gantt.critical_path
    if not path:
        return ["critical path: none (no node has finished)"]
    shown = ", ".join(f"{k} {duration(v)}" for k, v in cp.parts_ms.items() if v)
    share = cp.share * 100
    return [
        "critical path: " + " → ".join(path),
        f"  total {duration(cp.total_ms)} ({shown or 'no time'}); explains {share:.0f}% of the run",
    ]
