"""A run's Gantt chart in colour: one row per node attempt, the critical path highlighted.

The rows are :func:`orchestrator.cli.remote.gantt_text.rows` (the same drawing as
``dagq runs gantt``), coloured: queue wait dim, execution by outcome, backoff and delay
in their own colours, critical-path labels bold orange.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from app.text import safe
from orchestrator.cli.remote.gantt_text import (
    BACKOFF,
    DELAY,
    INSTANT,
    QUEUE,
    RUN,
    critical_lines,
    rows,
    skipped_nodes,
)
from orchestrator.cli.remote.render import duration
from orchestrator.engine.timeline import Outcome
from orchestrator.wire.ops import Gantt

_OUTCOME: dict[str, str] = {
    Outcome.COMPLETED: "#9ece6a", Outcome.FAILED: "#ff5f5f", Outcome.RETRYING: "#e0af68",
    Outcome.CANCELLED: "#8a8f98", Outcome.RUNNING: "#7dcfff", Outcome.QUEUED: "#7dcfff",
    Outcome.WAITING: "#bb9af7",
}  # fmt: skip
_GLYPH = {QUEUE: "#565f89", BACKOFF: "#e0af68", DELAY: "#bb9af7", INSTANT: "#c0caf5"}
CRITICAL = "bold #ff9e64"
LABEL_W = 18


class GanttChart(Widget):
    """Draws the API's ``Gantt`` answer to the widget's width."""

    DEFAULT_CSS = """
    GanttChart {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.gantt: Gantt | None = None

    def show(self, gantt: Gantt | None) -> None:
        """Draw ``gantt`` (None: nothing yet)."""
        self.gantt = gantt
        lines = 1 if gantt is None else len(gantt.nodes) + 6
        self.styles.height = lines
        self.refresh(layout=True)

    def render(self) -> Text:
        """The rows, the axis, the critical path and the skipped nodes."""
        gantt = self.gantt
        if gantt is None:
            return Text("loading the Gantt chart…", style="dim")
        width = max(30, (self.content_region.width or self.size.width) - LABEL_W - 6)
        out = Text(no_wrap=True, overflow="ellipsis")
        for row in rows(gantt, width):
            out.append("* " if row.critical else "  ", style=CRITICAL)
            out.append_text(safe(row.label, width=LABEL_W))
            out.append(" " * max(0, LABEL_W - len(row.label)) + " │")
            colour = _OUTCOME.get(row.outcome, "#e0e0e0")
            for ch in row.cells:
                style = colour if ch == RUN else _GLYPH.get(ch, "")
                out.append(ch, style=style)
            out.append("│\n")
        total = duration(gantt.duration_ms) or "0ms"
        out.append(" " * (LABEL_W + 4) + "0" + " " * max(1, width - len(total) - 1) + total + "\n")
        out.append(f"{QUEUE} queued  ", style=_GLYPH[QUEUE])
        out.append(f"{RUN} running  ", style=_OUTCOME[Outcome.COMPLETED])
        out.append(f"{BACKOFF} backoff  ", style=_GLYPH[BACKOFF])
        out.append(f"{DELAY} delay  ", style=_GLYPH[DELAY])
        out.append("* critical path\n", style=CRITICAL)
        for i, line in enumerate(critical_lines(gantt)):
            out.append(line + "\n", style=CRITICAL if i == 0 else "")
        skipped = skipped_nodes(gantt)
        if skipped:
            out.append("skipped: ", style="dim")
            out.append_text(safe(", ".join(skipped), width=width))
        out.rstrip()
        return out
