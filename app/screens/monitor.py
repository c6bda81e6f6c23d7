"""The Monitor: runs, the selected run's DAG with live node statuses, its events, actions.

Left, the runs (newest first, filter by status, paged).  In the middle the selected
run's workflow drawn on a :class:`~app.widgets.canvas_view.CanvasView` with the
designer's layout and every node's status as a colour *and* a symbol; under it the
event log and the selected node's details.  The run is fetched once when it opens and
then followed live (:class:`~app.live.RunFollower`): its events alone change it
(:class:`~app.run_state.LiveRun`), each recolouring its node at once.  The node panel
fetches what events do not carry (input, output, times) for the node it shows.

Actions (:mod:`.run_actions`): cancel (``x``), retry the run (``R``), retry from the
selected node (``F``); replay (``p``), Gantt (``g``), mark and compare two runs
(``m``, ``c``): see :mod:`app.screens.insight_keys`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Footer, Header

from app.canvas.model import CanvasGraph, as_canvas_graph
from app.live import LiveState, RunFollower
from app.run_state import LiveRun
from app.screens import approval_actions
from app.screens.monitor_rules import best_zoom, interesting_node
from app.screens.promote import offer_promote
from app.screens.run_actions import RunActionsScreen
from app.session import Session
from app.text import safe
from app.widgets.canvas_view import CanvasView
from app.widgets.event_log import EventLog
from app.widgets.map_items import MapItemsDialog, map_badges
from app.widgets.node_details import NodeDetails
from app.widgets.run_header import RunHeader
from app.widgets.runs_list import RunsList
from orchestrator.errors import DagqError
from orchestrator.spec.model import WorkflowSpec
from orchestrator.wire.runs import NodeStatusView, WorkflowRun


class MonitorScreen(RunActionsScreen):
    """Runs and their live execution."""

    CSS_PATH = "monitor.tcss"
    AUTO_FOCUS = "#runs"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide(True)", "Approve", show=False),  # the node panel says so
        Binding("r", "decide(False)", "Reject", show=False),
        Binding("s", "signal", "Signal", show=False),
        Binding("ctrl+r", "refresh", "Refresh"),
        Binding("P", "promote", "Promote to workflow", show=False),
        Binding("u", "open_parent", "Parent run", show=False),
    ]

    def __init__(
        self,
        session: Session,
        *,
        list_refresh_s: float = 2.0,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """The monitor over ``session``; the run list refreshes every ``list_refresh_s``."""
        super().__init__(session, name=name, id=id, classes=classes)
        self.list_refresh_s = list_refresh_s
        self.run_id: str | None = None
        self.live: LiveRun | None = None
        """The run on screen: fetched once, then changed by its events alone."""
        self.spec: WorkflowSpec | None = None
        self.follower: RunFollower | None = None
        self._specs: dict[tuple[str, int], WorkflowSpec | None] = {}
        self._graph_key: tuple[str, int] | None = None
        self._canvas_graph: CanvasGraph | None = None
        self._auto_zoom = True
        self._fitted_height = -1
        self._zoom_by_me: int | None = None
        self.redraw_due = False
        """Events were applied that the widgets do not show yet (drawn once per burst)."""
        self._list_timer: Timer | None = None
        self._list_offset = 0
        """The runs list's page asked for last (the shown one until a load lands)."""
        self._wanted: str | None = None
        """A run asked for with show_run before the list had it."""

    # -- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """Runs | run (header, canvas, actions); events | node details."""
        yield Header(show_clock=False, icon="◈")
        with Horizontal(id="monitor-top"):
            yield RunsList(id="runs-list")
            with Vertical(id="run-pane"):
                yield RunHeader(id="run-header")
                yield CanvasView(id="run-canvas")
                with Horizontal(id="run-actions"):
                    yield from self.action_buttons()
        with Horizontal(id="monitor-bottom"):
            yield EventLog(id="event-log")
            yield NodeDetails(id="node-details")
        yield Footer()

    def on_mount(self) -> None:
        """Titles, the first page of runs, and the list's refresh timer."""
        self.sub_title = "Monitor"
        self.query_one("#runs-list").border_title = "Runs"
        self.query_one("#run-pane").border_title = "Run"
        self.query_one("#event-log").border_title = "Events"
        self.query_one("#node-details").border_title = "Node"
        client = self.session.client
        self.details.logs_loader = lambda run, node: self.session.call(client.run_logs(run, node))
        self.update_actions()
        self.watch(self.canvas, "zoom", self._zoom_changed, init=False)
        if reason := self.blocked("run:read"):
            self.runs_list.show_message(reason)
            self.header.update(safe(reason))
            return
        self.load_runs()
        self._list_timer = self.set_interval(self.list_refresh_s, self._tick, pause=False)

    def on_screen_suspend(self) -> None:
        """Stop polling the list while another mode is shown (the run is still followed)."""
        if self._list_timer is not None:
            self._list_timer.pause()

    def on_screen_resume(self) -> None:
        """Poll again, and catch up at once."""
        if self._list_timer is not None:
            self._list_timer.resume()
            self.load_runs()

    # -- widgets -----------------------------------------------------------------------
    @property
    def runs_list(self) -> RunsList:
        """The runs list."""
        return self.query_one(RunsList)

    @property
    def canvas(self) -> CanvasView:
        """The run's canvas."""
        return self.query_one("#run-canvas", CanvasView)

    @property
    def event_log(self) -> EventLog:
        """The event log."""
        return self.query_one(EventLog)

    @property
    def header(self) -> RunHeader:
        """The run header."""
        return self.query_one(RunHeader)

    @property
    def details(self) -> NodeDetails:
        """The node details."""
        return self.query_one(NodeDetails)

    @property
    def run(self) -> WorkflowRun | None:
        """The run on screen (the API's run view, kept current by its events)."""
        return self.live.view if self.live is not None else None

    @property
    def statuses(self) -> dict[str, str]:
        """Each node's status on screen."""
        return self.live.statuses if self.live is not None else {}

    @property
    def selected_node(self) -> str | None:
        """The node selected on the canvas."""
        return self.canvas.selected

    # -- the runs list -----------------------------------------------------------------
    def _tick(self) -> None:
        self.load_runs()

    def load_runs(self, offset: int | None = None) -> None:
        """Fetch the list's current page (or the page at ``offset``).

        A load cancels the one in flight, so the page asked for is remembered here, at
        once: a background refresh that starts meanwhile fetches that page too.
        """
        if offset is not None:
            self._list_offset = offset
        self._fetch_runs(quiet=offset is None and self.runs_list.total > 0)

    @work(exclusive=True, group="list")
    async def _fetch_runs(self, *, quiet: bool) -> None:
        runs = self.runs_list
        start = self._list_offset
        page = await self.api(
            self.session.client.list_runs(
                status=runs.status_filter,
                limit=runs.page_size,
                offset=start,
                kind=runs.kind_filter,
            ),
            quiet=quiet,  # background refreshes stay quiet
        )
        if page is None or not self.app.is_running:  # the app may have quit meanwhile
            return
        live = self.live
        items = page.items
        if live is not None:  # the run on screen shows its live status in the list too
            items = [r.model_copy(update={"status": live.status}) if r.runId == live.run_id else r
                     for r in items]  # fmt: skip
        runs.show_page(items, total=page.total, offset=start, has_more=page.has_more)
        if self.run_id is not None:
            runs.select_run(self.run_id)
        elif items and self._wanted is None:
            first = items[0].runId
            runs.select_run(first)
            self.open_run(first)

    @on(RunsList.FilterChanged)
    def _filter_changed(self, message: RunsList.FilterChanged) -> None:
        self.load_runs(0)

    @on(RunsList.PageRequested)
    def _page_requested(self, message: RunsList.PageRequested) -> None:
        self.load_runs(message.offset)

    @on(RunsList.RunHighlighted)
    def _run_highlighted(self, message: RunsList.RunHighlighted) -> None:
        if message.run_id != self.run_id:
            self.open_run(message.run_id)

    def show_run(self, run_id: str) -> None:
        """Select ``run_id`` and follow it (the app calls this for ``OpenRun``: a run
        just started is the one shown, and the list's cursor moves to it)."""
        if reason := self.blocked("run:read"):
            self.refuse(reason)
            return
        self._wanted = run_id
        self.runs_list.select_run(run_id)
        self.open_run(run_id)
        self.load_runs(0)

    # -- one run -----------------------------------------------------------------------
    def open_run(self, run_id: str) -> None:
        """Show ``run_id``: load it, draw its workflow, follow its events."""
        self.workers.cancel_group(self, "follow")
        self.workers.cancel_group(self, "run")
        self.workers.cancel_group(self, "node")
        self.run_id, self.live, self.follower = run_id, None, None
        self.event_log.reset()
        self.header.show_pending(run_id)
        self.header.show_state(LiveState.CONNECTING)
        self.details.show(None)
        self._show_summary()
        self.update_actions()
        self.fetch_run(run_id)

    @work(exclusive=True, group="run")
    async def fetch_run(self, run_id: str) -> None:
        """``GET /runs/{id}`` (and its workflow's version, once); then follow its events."""
        view = await self.api(self.session.client.get_run(run_id))
        if run_id != self.run_id:
            return
        if view is None:
            self.header.show_state(LiveState.ENDED, detail="could not load the run")
            return
        spec = await self._spec_of(view)
        if run_id != self.run_id:
            return
        self._show_fetched(LiveRun.of(view), spec)
        self._follow(run_id, None)

    async def _spec_of(self, view: WorkflowRun) -> WorkflowSpec | None:
        """The run's pinned workflow version (cached); None when it cannot be read."""
        key = (view.workflowId, view.workflowVersion)
        if key not in self._specs:
            version = await self.api(
                self.session.client.get_version(*key), quiet=True
            )  # a deleted workflow: the run is drawn from its nodes alone
            spec = None
            if version is not None:
                try:
                    spec = WorkflowSpec.model_validate(version.spec)
                except ValueError:
                    spec = None
            self._specs[key] = spec
        return self._specs[key]

    def _show_fetched(self, live: LiveRun, spec: WorkflowSpec | None) -> None:
        """Draw a run just fetched: its workflow (once per version), then its state."""
        self.live, self.spec = live, spec
        key = (live.view.workflowId, live.view.workflowVersion)
        if key != self._graph_key:
            self._graph_key = key
            try:
                self._canvas_graph = as_canvas_graph(spec or (list(live.statuses), []))
                self.canvas.set_graph(self._canvas_graph)
            except DagqError as exc:
                self._canvas_graph = None
                self.notify(exc.message, severity="error")
            self._auto_zoom = True
        self._select_interesting(live)
        if self._auto_zoom and self.canvas.size.height != self._fitted_height:
            # The first fit may run before the layout settles: fit again while the
            # user has not chosen a zoom of their own.
            self.call_after_refresh(self._fit_zoom)
        self._redraw()

    def _select_interesting(self, live: LiveRun) -> None:
        graph = self._canvas_graph
        order = [n.id for n in graph.nodes] if graph is not None else []
        pick = interesting_node(live.view.errorNode, live.statuses, order)
        if pick is not None:
            # A node the drawing lacks (the spec changed) is simply not selected.
            with contextlib.suppress(DagqError):
                self.canvas.select(pick)

    def _fit_zoom(self) -> None:
        """Choose the zoom that fits (until the user picks one)."""
        canvas, graph = self.canvas, self._canvas_graph
        if graph is None or canvas.size.height <= 0:
            return
        chosen = best_zoom(graph, canvas.positions(), canvas.size.height)
        self._fitted_height = canvas.size.height
        self._zoom_by_me = chosen
        canvas.zoom = chosen
        selected = canvas.selected
        if selected is not None:
            self.call_after_refresh(canvas.scroll_to_node, selected)

    def _zoom_changed(self, zoom: int) -> None:
        if zoom != self._zoom_by_me:
            self._auto_zoom = False  # the user zoomed: leave it

    def _redraw(self) -> None:
        """Show the run's current state everywhere (once per burst of events)."""
        self.redraw_due = False
        live = self.live
        if live is None:
            return
        self.canvas.set_statuses(live.statuses)
        self.canvas.set_badges(map_badges(live.details))
        self.header.show_run(live.view, title=self.spec.name if self.spec else None)
        self.runs_list.set_run_status(live.run_id, live.status)
        self._show_summary()
        self._show_node(self.canvas.selected)
        self.update_actions()

    def _show_summary(self) -> None:
        """``493 completed, 7 skipped`` under the run."""
        summary = self.live.summary() if self.live is not None else ""
        self.query_one("#run-pane").border_subtitle = safe(summary) if summary else None

    # -- following -----------------------------------------------------------------------
    def _follow(self, run_id: str, last_event_id: str | None) -> None:
        self.follower = RunFollower(self.session, run_id, self, last_event_id=last_event_id)
        self._run_follower(self.follower)

    @work(group="follow", exclusive=True)
    async def _run_follower(self, follower: RunFollower) -> None:
        # A worker of its own (not ``run_worker(follower.follow())``): one replaced before
        # it starts leaves no coroutine that was never awaited.
        await follower.follow()

    @on(RunFollower.EventReceived)
    def _event(self, message: RunFollower.EventReceived) -> None:
        if message.run_id != self.run_id or self.live is None:
            return
        self.event_log.add(message.event)
        change = self.live.apply(message.event)
        if (change.run or change.nodes) and not self.redraw_due:
            # A burst of events (catching up) is drawn once, after it.
            self.redraw_due = True
            self.call_later(self._redraw)

    @on(RunFollower.StateChanged)
    def _live_state(self, message: RunFollower.StateChanged) -> None:
        if message.run_id == self.run_id:
            self.header.show_state(message.state, attempt=message.attempt, detail=message.detail)

    @on(RunFollower.Ended)
    def _ended(self, message: RunFollower.Ended) -> None:
        if message.run_id == self.run_id and message.error:
            self.notify(message.error, title="Stopped following the run", severity="warning")

    def after_action(self, run_id: str) -> None:
        """A cancel or retry was accepted: follow again if following had stopped at the
        run's end (its events say what changed), and refresh the list."""
        if run_id != self.run_id:
            return
        follower = self.follower
        if follower is None or follower.state is LiveState.ENDED:
            self._follow(run_id, follower.last_event_id if follower else None)
        self.load_runs()

    # -- nodes -----------------------------------------------------------------------------
    @on(CanvasView.NodeSelected, "#run-canvas")
    def _node_selected(self, message: CanvasView.NodeSelected) -> None:
        self._show_node(message.node_id)
        self.update_actions()

    @on(CanvasView.NodeActivated, "#run-canvas")
    def _node_activated(self, message: CanvasView.NodeActivated) -> None:
        node = self.live.node(message.node_id) if self.live is not None else None
        if node is None:
            return
        if self.run_id and node.progress:
            self.app.push_screen(MapItemsDialog(self.session, self.run_id, message.node_id))
        elif node.childRunId:  # a sub-workflow: follow its child run
            self.show_run(node.childRunId)

    def action_open_parent(self) -> None:
        """Open the run whose sub-workflow node started this one."""
        parent = self.run.parent if self.run is not None else None
        if parent is not None and parent.runId:
            self.show_run(parent.runId)

    def _show_node(self, node_id: str | None) -> None:
        live = self.live
        if node_id is None or live is None:
            self.details.show(None, node_id=node_id)
            return
        spec_node = self.spec_node(node_id)
        self.details.show(
            live.node(node_id),
            node_id=node_id,
            kind=spec_node.type if spec_node is not None else None,
            handler=getattr(spec_node, "handler", None),
            compensation=getattr(spec_node, "compensation", None),
            run_id=self.run_id,
        )
        if live.wants_details(node_id):
            live.asking(node_id)
            self._fetch_node(live, node_id)

    @work(group="node")
    async def _fetch_node(self, live: LiveRun, node_id: str) -> None:
        """The shown node's input, output and times (its status stays the events')."""
        view = await self.api(self.session.client.get_node_status(live.run_id, node_id), quiet=True)
        if view is None or live is not self.live or not self.is_attached:
            return  # nothing to show, another run now, or the monitor closed while it answered
        live.got_details(node_id, view)
        if self.canvas.selected == node_id:
            self._show_node(node_id)

    def action_decide(self, approve: bool) -> None:
        """Approve or reject the selected (or only) waiting approval, with a comment."""
        approval_actions.decide(self, approve=approve)

    def action_signal(self) -> None:
        """Send the run a signal with a JSON payload."""
        approval_actions.send_signal(self)

    def fresh_node(self, node_id: str, view: NodeStatusView) -> None:
        """A node's view fetched after a decision (its status may not have changed)."""
        if self.live is not None and view.nodeId == node_id:
            self.live.got_details(node_id, view)
            if self.canvas.selected == node_id:
                self._show_node(node_id)

    # -- refresh and palette ---------------------------------------------------------------
    def action_refresh(self) -> None:
        """Reload the list, and open the run again (fetched, then followed from its start)."""
        self.load_runs()
        if self.run_id is not None:
            self.open_run(self.run_id)

    def action_promote(self) -> None:
        """Open the shown job or chain in the Designer as a workflow to extend (P)."""
        offer_promote(self, self.session, self.run_id)

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Monitor actions for the command palette."""
        yield from self.action_commands()
        yield SystemCommand(
            "Promote to workflow", "Open this job or chain in the Designer (P)", self.action_promote
        )
        yield SystemCommand(
            "Refresh runs", "Reload the runs and the run (ctrl+r)", self.action_refresh
        )
        yield SystemCommand(
            "Relayout the run's graph", "Lay the DAG out again (L)", self.canvas.relayout
        )
