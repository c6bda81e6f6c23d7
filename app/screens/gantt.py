"""A run's Gantt chart with its critical path, highlighted on the chart and on the canvas.

``GET /runs/{id}/gantt``: one bar per node attempt (queued → started → ended, retries
and backoff), skipped nodes apart, and the chain of nodes that set the run's duration
with its parts (execution, queue wait, backoff, delay).  Escape goes back.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header

from app.canvas.model import as_canvas_graph
from app.screens.ops_base import OpsScreen
from app.screens.replay import fetch_spec, fit_canvas
from app.session import Session
from app.text import safe
from app.widgets.canvas_view import CanvasView
from app.widgets.gantt_chart import GanttChart
from orchestrator.cli.remote.gantt_text import skipped_nodes
from orchestrator.errors import DagqError
from orchestrator.spec.model import WorkflowSpec
from orchestrator.vocab import NodeStatus
from orchestrator.wire.ops import Gantt


class GanttScreen(OpsScreen):
    """One run on a time axis."""

    CSS_PATH = "insight.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, session: Session, run_id: str, spec: WorkflowSpec | None = None) -> None:
        super().__init__(session)
        self.run_id = run_id
        self.spec = spec
        self.gantt: Gantt | None = None

    def compose(self) -> ComposeResult:
        """The canvas (critical path highlighted) over the chart."""
        yield Header(show_clock=False, icon="◈")
        yield CanvasView(id="gantt-canvas")
        with VerticalScroll(id="gantt-pane"):
            yield GanttChart(id="gantt-chart")
        yield Footer()

    def on_mount(self) -> None:
        """Titles, then the chart."""
        self.sub_title = "Gantt"
        self.query_one("#gantt-canvas").border_title = "Critical path"
        self.query_one("#gantt-pane").border_title = safe(f"Gantt · run {self.run_id}", width=60)
        self.query_one("#gantt-pane").focus()
        self.load()

    @work(exclusive=True, group="gantt")
    async def load(self) -> None:
        """Fetch the chart (and the run's pinned spec when not given)."""
        gantt = await self.api(self.session.client.run_gantt(self.run_id))
        if gantt is None:
            return
        self.gantt = gantt
        if self.spec is None:
            self.spec = await fetch_spec(self, gantt.workflowId, gantt.workflowVersion)
        canvas = self.query_one(CanvasView)
        nodes = list(dict.fromkeys(b.node for b in gantt.nodes))
        try:
            graph = as_canvas_graph(self.spec or (nodes, []))
            canvas.set_graph(graph)
            self.call_after_refresh(fit_canvas, canvas, graph)
        except DagqError as exc:
            self.notify(exc.message, severity="error")
        final: dict[str, str] = {}
        for bar in gantt.nodes:
            final[bar.node] = bar.outcome
        for node in skipped_nodes(gantt):
            final[node] = NodeStatus.SKIPPED
        canvas.set_statuses(final)
        canvas.set_highlight(gantt.critical_path or [])
        self.query_one(GanttChart).show(gantt)

    def action_back(self) -> None:
        """Back."""
        self.dismiss()
