"""Replay a run on its canvas: scrub through its events and see the run as it was then.

The canvas, the node panel and the event log all show the run as of the event under
the timeline bar's cursor.  The states come from ``GET /runs/{id}/replay/steps``: the
API rebuilt them from the run's events with the engine's own transitions.  The node
panel adds the node's handler logs as of the cursor: a node's logs are read once
(``GET /runs/{id}/nodes/{node}/logs``, when it is first selected), then each step shows
the attempts that had started and the lines written by then (each line carries the
time it was written).

Keys: ←/→ one event, Shift+←/→ the previous/next change of the selected node (of any
node when none is selected), Home/End, space plays or pauses, ``s`` cycles the speed
(1x, 2x, 10x, as fast as events), ``g`` the Gantt chart, Escape goes back.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from app.canvas.model import CanvasGraph, as_canvas_graph
from app.replay_model import ReplayModel, logs_as_of
from app.screens.monitor_rules import best_zoom
from app.screens.ops_base import OpsScreen
from app.session import Session, describe_error
from app.text import safe
from app.widgets.canvas_view import CanvasView
from app.widgets.event_log import EventLog
from app.widgets.node_details import LABEL_STYLE, NodeDetails, describe_logs
from app.widgets.replay_bar import ReplayBar
from orchestrator.errors import DagqError, NotFound
from orchestrator.spec.model import WorkflowSpec
from orchestrator.wire.runs import AttemptLogView

LOG_PAGE = 1000
"""Attempts asked for per request when reading a node's logs."""
MAX_LOG_PAGES = 20
"""Requests at most per node (a run keeps about 10,000 attempts' logs)."""


async def fetch_spec(screen: OpsScreen, workflow_id: str, version: int) -> WorkflowSpec | None:
    """A run's pinned workflow version (None when it cannot be read, e.g. deleted)."""
    data = await screen.api(screen.session.client.get_version(workflow_id, version), quiet=True)
    with contextlib.suppress(ValueError, TypeError):
        return None if data is None else WorkflowSpec.model_validate(data.spec)
    return None


def fit_canvas(canvas: CanvasView, graph: CanvasGraph) -> None:
    """The zoom at which ``graph`` fits the canvas's height (as the monitor chooses it)."""
    if canvas.size.height > 0:
        canvas.zoom = best_zoom(graph, canvas.positions(), canvas.size.height)


class ReplayScreen(OpsScreen):
    """One run, replayed event by event."""

    CSS_PATH = "insight.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "step(-1)", "Prev event", priority=True),
        Binding("right", "step(1)", "Next event", priority=True),
        Binding("shift+left", "change(-1)", "Prev change", priority=True),
        Binding("shift+right", "change(1)", "Next change", priority=True),
        Binding("home", "jump('start')", "Start", priority=True, show=False),
        Binding("end", "jump('end')", "End", priority=True, show=False),
        Binding("space", "play", "Play/pause", priority=True),
        Binding("s", "speed", "Speed"),
        Binding("g", "gantt", "Gantt"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, session: Session, run_id: str, spec: WorkflowSpec | None = None) -> None:
        super().__init__(session)
        self.run_id = run_id
        self.spec = spec
        self.model: ReplayModel | None = None
        self.playing = False
        self._timer: Timer | None = None
        self._logged = 0
        self._node_logs: dict[str, list[AttemptLogView] | str] = {}
        """Each node's handler logs, read once (a string: why they could not be)."""
        self._fetching: set[str] = set()

    def compose(self) -> ComposeResult:
        """Canvas over the timeline bar; events | node as of the cursor."""
        yield Header(show_clock=False, icon="◈")
        with Vertical(id="replay-pane"):
            yield Static(id="replay-title")
            yield CanvasView(id="replay-canvas")
            yield ReplayBar(id="replay-bar")
        with Horizontal(id="replay-bottom"):
            yield EventLog(id="replay-events")
            yield NodeDetails(id="replay-node")
        yield Footer()

    def on_mount(self) -> None:
        """Titles, then the replay."""
        self.sub_title = "Replay"
        self.query_one("#replay-pane").border_title = "Replay"
        self.query_one("#replay-events").border_title = "Events (as of the cursor)"
        self.query_one("#replay-node").border_title = "Node (as of the cursor)"
        self.query_one("#replay-title", Static).update(safe(f"run {self.run_id}", width=100))
        self.canvas.focus()
        self.load()

    @property
    def canvas(self) -> CanvasView:
        """The run's canvas."""
        return self.query_one("#replay-canvas", CanvasView)

    @property
    def bar(self) -> ReplayBar:
        """The timeline bar."""
        return self.query_one(ReplayBar)

    @work(exclusive=True, group="replay")
    async def load(self) -> None:
        """Fetch the replay (and the pinned spec when not given), then show its start."""
        data = await self.api(self.session.client.replay_steps(self.run_id))
        if data is None:
            self.bar.note = "could not load the replay"
            self.bar.refresh()
            return
        if self.spec is None:
            self.spec = await fetch_spec(self, data.workflowId, data.workflowVersion)
        try:
            graph = as_canvas_graph(self.spec or (list(data.initial), []))
            self.canvas.set_graph(graph)
            self.call_after_refresh(fit_canvas, self.canvas, graph)
        except DagqError as exc:
            self.notify(exc.message, severity="error")
        title = f"run {self.run_id}  ·  {data.workflowId} v{data.workflowVersion}"
        self.query_one("#replay-title", Static).update(safe(title, width=100))
        self.model = ReplayModel(data.as_json())
        if not data.exact:
            self.bar.note = str(data.note or "the replay is not exact")
        self.show_position(0 if self.model.count else -1)

    # -- showing a position ------------------------------------------------------------
    def show_position(self, position: int) -> None:
        """Move the cursor and show the run as of that event."""
        model = self.model
        if model is None:
            return
        model.go(position)
        self.canvas.set_statuses(model.statuses())
        log = self.query_one(EventLog)
        events = model.events()
        if len(events) < self._logged:
            log.reset()
            self._logged = 0
        for event in events[self._logged :]:
            log.add(event)
        self._logged = len(events)
        self._show_node(self.canvas.selected)
        self.bar.show(model, playing=self.playing)

    def _show_node(self, node_id: str | None) -> None:
        details = self.query_one(NodeDetails)
        if node_id is None or self.model is None:
            details.show(None)
            return
        spec_node = None
        if self.spec is not None:
            with contextlib.suppress(KeyError):
                spec_node = self.spec.node(node_id)
        details.show(
            self.model.node_view(node_id),
            node_id=node_id,
            kind=spec_node.type if spec_node else None,
            handler=getattr(spec_node, "handler", None),
            compensation=getattr(spec_node, "compensation", None),
        )
        self._show_logs(details, node_id)

    def _show_logs(self, details: NodeDetails, node_id: str) -> None:
        """The node's handler logs as of the cursor: the lines written by then."""
        model, logs = self.model, self._node_logs.get(node_id)
        if model is None:
            return
        if logs is None:
            if node_id not in self._fetching:
                self._fetching.add(node_id)
                self.run_worker(self._fetch_logs(node_id), group="replay-logs")
            return
        if isinstance(logs, str):
            note = safe(f"could not be read: {logs}", multiline=True, style="dim")
            details.show_logs([Text("logs", style=LABEL_STYLE), note])
            return
        view = model.nodes().get(node_id) or {}
        status, attempts = view.get("status"), int(view.get("attempts") or 0)
        now = logs_as_of(logs, model.time(), status=status, node_attempts=attempts)
        out = describe_logs(now.attempts, run_id=self.run_id, node_id=node_id)
        if now.later:
            lines = "1 more line" if now.later == 1 else f"{now.later} more lines"
            out = out or [Text("logs", style=LABEL_STYLE)]
            out.append(Text(f"… {lines} written after this moment", style="dim"))
        details.show_logs(out)

    async def _fetch_logs(self, node_id: str) -> None:
        """Read every attempt's logs of ``node_id`` once (page by page)."""
        client, since = self.session.client, None
        attempts: list[AttemptLogView] = []
        result: list[AttemptLogView] | str = attempts
        try:
            for _ in range(MAX_LOG_PAGES):
                page = await self.session.call(
                    client.run_logs(self.run_id, node_id, since=since, limit=LOG_PAGE)
                )
                attempts += page.attempts
                if page.lastId is None or page.lastId == since:
                    break
                since = page.lastId
        except NotFound:
            pass  # no state for the node in this run: it logged nothing
        except Exception as exc:  # DagqError, or an answer of the wrong shape: never a crash
            result = describe_error(exc)
        finally:
            self._fetching.discard(node_id)
        self._node_logs[node_id] = result
        if self.canvas.selected == node_id:
            self._show_node(node_id)

    @on(CanvasView.NodeSelected, "#replay-canvas")
    def _node_selected(self, message: CanvasView.NodeSelected) -> None:
        if message.node_id is not None and isinstance(self._node_logs.get(message.node_id), str):
            del self._node_logs[message.node_id]  # could not be read: try again
        self._show_node(message.node_id)

    # -- keys ---------------------------------------------------------------------------
    def action_step(self, delta: int) -> None:
        """One event back or forward."""
        if self.model is not None:
            self._pause()
            self.show_position(self.model.position + delta)

    def action_change(self, direction: int) -> None:
        """The previous/next change of the selected node (any node when none is)."""
        if self.model is not None:
            self._pause()
            self.show_position(self.model.next_change(direction, self.canvas.selected))

    def action_jump(self, where: str) -> None:
        """The start (before the first event) or the end."""
        if self.model is not None:
            self._pause()
            self.show_position(-1 if where == "start" else self.model.count - 1)

    def action_speed(self) -> None:
        """Cycle the speed: 1x, 2x, 10x, as fast as events."""
        if self.model is not None:
            self.model.cycle_speed()
            if self.playing:
                self._schedule()
            self.bar.show(self.model, playing=self.playing)

    def action_play(self) -> None:
        """Play from the cursor (from the start when at the end), or pause."""
        model = self.model
        if model is None:
            return
        if self.playing:
            self._pause()
            return
        if model.position >= model.count - 1:
            self.show_position(-1)
        self.playing = True
        self.bar.show(model, playing=True)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        assert self.model is not None
        self._timer = self.set_timer(self.model.delay_s(), self._advance)

    def _advance(self) -> None:
        self._timer = None
        model = self.model
        if model is None or not self.playing:
            return
        self.show_position(model.position + 1)
        if model.position >= model.count - 1:
            self._pause()
        else:
            self._schedule()

    def _pause(self) -> None:
        self.playing = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.model is not None:
            self.bar.show(self.model, playing=False)

    def action_gantt(self) -> None:
        """The run's Gantt chart and critical path."""
        from app.screens.gantt import GanttScreen

        self.app.push_screen(GanttScreen(self.session, self.run_id, self.spec))

    def action_back(self) -> None:
        """Back to the monitor."""
        self._pause()
        self.dismiss()

    def state(self) -> dict[str, Any]:
        """What is shown (for tests): position, statuses, selected node."""
        model = self.model
        return {
            "position": model.position if model else None,
            "statuses": model.statuses() if model else {},
            "selected": self.canvas.selected,
        }
