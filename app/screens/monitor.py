"""The Monitor: runs, the selected run's DAG with live node statuses, its events, actions.

Left, the runs (newest first, filter by status, paged).  In the middle the selected
run's workflow drawn on a :class:`~app.widgets.canvas_view.CanvasView` with every
node's status as a colour *and* a symbol; under it the event log and the selected
node's details.  The run is followed live (:class:`~app.live.RunFollower`): each
event recolours its node at once, and a debounced ``GET /runs/{id}`` fills in what
events do not carry (attempts, output, nodes a cancel or retry reset).

Actions: cancel (``x``), retry the run (``R``), retry from the selected node (``F``);
replay (``p``), Gantt (``g``), mark and compare two runs (``m``, ``c``): see
:mod:`app.screens.insight_keys`.
What the role cannot do is disabled with the reason (buttons' tooltips, and a
notification when the key is pressed); a 403 is a message, never a crash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Button, Footer, Header

from app.canvas.model import CanvasGraph, as_canvas_graph
from app.live import LiveState, RunFollower, run_status_from_event, status_from_event
from app.screens.insight_keys import RunInsightScreen
from app.screens.monitor_rules import action_reason, best_zoom, confirmation, interesting_node
from app.screens.ops_base import confirm_then
from app.session import Session
from app.text import safe
from app.widgets.canvas_view import CanvasView
from app.widgets.event_log import EventLog
from app.widgets.node_details import NodeDetails
from app.widgets.run_header import RunHeader
from app.widgets.runs_list import RunsList
from orchestrator.errors import DagqError
from orchestrator.spec.model import Node, WorkflowSpec
from orchestrator.vocab import RunStatus


class MonitorScreen(RunInsightScreen):
    """Runs and their live execution."""

    CSS_PATH = "monitor.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "cancel_run", "Cancel run"),
        Binding("R", "retry_run", "Retry run"),
        Binding("F", "retry_from_node", "Retry from node"),
        Binding("ctrl+r", "refresh", "Refresh"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        list_refresh_s: float = 2.0,
        debounce_s: float = 0.1,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """The monitor over ``session``; the run list refreshes every ``list_refresh_s``."""
        super().__init__(session, name=name, id=id, classes=classes)
        self.list_refresh_s = list_refresh_s
        self.debounce_s = debounce_s
        self.run_id: str | None = None
        self.run: dict[str, Any] | None = None
        self.spec: WorkflowSpec | None = None
        self.statuses: dict[str, str] = {}
        self.follower: RunFollower | None = None
        self._specs: dict[tuple[str, int], WorkflowSpec | None] = {}
        self._graph_key: tuple[str, int] | None = None
        self._canvas_graph: CanvasGraph | None = None
        self._auto_zoom = True
        self._fitted_height = -1
        self._zoom_by_me: int | None = None
        self._event_seq = 0
        self.view_seq = -1
        """How many events had arrived when the run on screen was fetched."""
        self._overlay: list[tuple[int, str, str]] = []
        self._refresh_timer: Timer | None = None
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
                    yield Button("Cancel run", id="cancel", compact=True, variant="error")
                    yield Button("Retry run", id="retry", compact=True, variant="warning")
                    yield Button("Retry from node", id="retry-node", compact=True)
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
        self._update_actions()
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
                status=runs.status_filter, limit=runs.page_size, offset=start
            ),
            quiet=quiet,  # background refreshes stay quiet
        )
        if page is None or not self.app.is_running:  # the app may have quit meanwhile
            return
        runs.show_page(page.items, total=page.total, offset=start, has_more=page.has_more)
        if self.run_id is not None:
            runs.select_run(self.run_id)
            if self.run is not None:
                runs.set_run_status(self.run_id, str(self.run.get("status")))
        elif page.items and self._wanted is None:
            first = str(page.items[0].get("runId"))
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
        """Select ``run_id`` and follow it (the app calls this for ``OpenRun``)."""
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
        self.run_id, self.run, self.follower = run_id, None, None
        self.statuses, self._overlay = {}, []
        self.event_log.reset()
        self.header.show_run({"runId": run_id, "status": RunStatus.PENDING})
        self.header.show_state(LiveState.CONNECTING)
        self.details.show(None)
        self._update_actions()
        self.fetch_run(run_id, first=True)

    @work(exclusive=True, group="run")
    async def fetch_run(self, run_id: str, *, first: bool = False) -> None:
        """``GET /runs/{id}`` (and its workflow's version, once); then follow it if ``first``."""
        seq = self._event_seq
        view = await self.api(self.session.client.get_run(run_id), quiet=not first)
        if run_id != self.run_id:
            return
        if view is None:
            if first:
                self.header.show_state(LiveState.ENDED, detail="could not load the run")
            return
        spec = await self._spec_of(view)
        if run_id != self.run_id:
            return
        self._apply_view(view, spec, seq)
        if first:
            self._follow(run_id, None)

    async def _spec_of(self, view: Mapping[str, Any]) -> WorkflowSpec | None:
        """The run's pinned workflow version (cached); None when it cannot be read."""
        key = (str(view.get("workflowId")), int(view.get("workflowVersion") or 0))
        if key not in self._specs:
            version = await self.api(
                self.session.client.get_version(*key), quiet=True
            )  # a deleted workflow: the run is drawn from its nodes alone
            spec = None
            if version is not None:
                try:
                    spec = WorkflowSpec.model_validate(version.get("spec"))
                except ValueError:
                    spec = None
            self._specs[key] = spec
        return self._specs[key]

    def _apply_view(self, view: dict[str, Any], spec: WorkflowSpec | None, seq: int) -> None:
        """Show a fetched run; events that arrived after the request still win."""
        self.run = view
        self.view_seq = seq
        self.spec = spec
        key = (str(view.get("workflowId")), int(view.get("workflowVersion") or 0))
        nodes: Mapping[str, Any] = view.get("nodes") or {}
        if key != self._graph_key:
            self._graph_key = key
            try:
                self._canvas_graph = as_canvas_graph(spec or (list(nodes), []))
                self.canvas.set_graph(self._canvas_graph)
            except DagqError as exc:
                self._canvas_graph = None
                self.notify(exc.message, severity="error")
            self._auto_zoom = True
            self._select_interesting(view)
        if self._auto_zoom and self.canvas.size.height != self._fitted_height:
            # The first fit may run before the layout settles: fit again while the
            # user has not chosen a zoom of their own.
            self.call_after_refresh(self._fit_zoom)
        statuses = {nid: str(n.get("status")) for nid, n in nodes.items()}
        self._overlay = [item for item in self._overlay if item[0] > seq]
        for _, node_id, status in self._overlay:
            statuses[node_id] = status
        self.statuses = statuses
        self.canvas.set_statuses(statuses)
        self.header.show_run(view, title=spec.name if spec else None)
        self.runs_list.set_run_status(str(view.get("runId")), str(view.get("status")))
        self._show_node(self.canvas.selected)
        self._update_actions()

    def _select_interesting(self, view: Mapping[str, Any]) -> None:
        pick = interesting_node(view)
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
        if message.run_id != self.run_id:
            return
        event = message.event
        self.event_log.add(event)
        self._event_seq += 1
        implied = status_from_event(event)
        if implied is not None:
            node_id, status = implied
            self._overlay.append((self._event_seq, node_id, status))
            self.statuses[node_id] = status
            self.canvas.set_statuses(self.statuses)
        run_status = run_status_from_event(event)
        if run_status is not None and self.run is not None:
            self.run["status"] = run_status
            self.header.show_run(self.run)
            self.runs_list.set_run_status(message.run_id, run_status)
            self._update_actions()
        self._schedule_refresh()

    @property
    def settled(self) -> bool:
        """No refresh is due: the run on screen was fetched after the last event."""
        return self._refresh_timer is None and self.view_seq == self._event_seq

    def _schedule_refresh(self) -> None:
        """Fetch the run shortly after a burst of events (at most one fetch per interval)."""
        if self._refresh_timer is None:
            self._refresh_timer = self.set_timer(self.debounce_s, self._debounced_refresh)

    def _debounced_refresh(self) -> None:
        self._refresh_timer = None
        if self.run_id is not None:
            self.fetch_run(self.run_id)

    @on(RunFollower.StateChanged)
    def _live_state(self, message: RunFollower.StateChanged) -> None:
        if message.run_id == self.run_id:
            self.header.show_state(message.state, attempt=message.attempt, detail=message.detail)

    @on(RunFollower.Ended)
    def _ended(self, message: RunFollower.Ended) -> None:
        if message.run_id != self.run_id:
            return
        if message.error:
            self.notify(message.error, title="Stopped following the run", severity="warning")
        self._schedule_refresh()

    # -- nodes -----------------------------------------------------------------------------
    @on(CanvasView.NodeSelected, "#run-canvas")
    def _node_selected(self, message: CanvasView.NodeSelected) -> None:
        self._show_node(message.node_id)
        self._update_actions()

    def _show_node(self, node_id: str | None) -> None:
        if node_id is None:
            self.details.show(None)
            return
        node = dict((self.run or {}).get("nodes", {}).get(node_id) or {}) or None
        if node is not None and node_id in self.statuses:
            node["status"] = self.statuses[node_id]
        spec_node = self._spec_node(node_id)
        self.details.show(
            node,
            node_id=node_id,
            kind=spec_node.type if spec_node is not None else None,
            handler=getattr(spec_node, "handler", None),
            compensation=getattr(spec_node, "compensation", None),
            run_id=self.run_id,
        )

    # -- actions ---------------------------------------------------------------------------
    def _reason(self, action: str) -> str:
        """Why ``action`` cannot run now (empty when it can)."""
        node_id = self.canvas.selected if action == "retry-node" else None
        spec_node = self._spec_node(node_id) if node_id else None
        return action_reason(
            action,
            self.run,
            self.blocked,
            node_id=node_id,
            node_type=spec_node.type if spec_node else None,
        )

    def _spec_node(self, node_id: str) -> Node | None:
        if self.spec is None:
            return None
        try:
            return self.spec.node(node_id)
        except KeyError:
            return None

    def _update_actions(self) -> None:
        for button in self.query("#run-actions Button").results(Button):
            reason = self._reason(str(button.id))
            button.disabled = bool(reason)
            button.tooltip = safe(reason) if reason else None

    @on(Button.Pressed, "#run-actions Button")
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        {
            "cancel": self.action_cancel_run,
            "retry": self.action_retry_run,
            "retry-node": self.action_retry_from_node,
        }[str(event.button.id)]()

    def _confirm(self, action: str, then: Callable[[str, str | None], object]) -> None:
        """Ask before ``action`` (see :func:`confirmation`); ``then(run_id, node_id)`` on yes."""
        if reason := self._reason(action):
            self.refuse(reason)
            return
        run_id, node_id = self.run_id, self.canvas.selected
        assert run_id is not None
        question, yes, no = confirmation(action, run_id, node_id)
        confirm_then(self, question, lambda: then(run_id, node_id), yes=yes, no=no)

    def action_cancel_run(self) -> None:
        """Cancel the selected run (after a confirmation)."""
        self._confirm("cancel", lambda run_id, _node: self.cancel_run(run_id))

    @work(group="action")
    async def cancel_run(self, run_id: str) -> None:
        """``DELETE /runs/{id}``."""
        await self.api(self.session.client.cancel_run(run_id))
        self._after_action(run_id)

    def action_retry_run(self) -> None:
        """Run the failed or cancelled run again from its failure (after a confirmation)."""
        self._confirm("retry", lambda run_id, _node: self.retry_run(run_id, None))

    def action_retry_from_node(self) -> None:
        """Run the failed or cancelled run again from the selected node (after a confirmation)."""
        self._confirm("retry-node", self.retry_run)

    @work(group="action")
    async def retry_run(self, run_id: str, from_node: str | None) -> None:
        """``POST /runs/{id}/retry`` (from ``from_node``), then follow the new attempt."""
        view = await self.api(self.session.client.retry_run(run_id, from_node=from_node))
        if view is None:
            return
        where = f" from {from_node}" if from_node else ""
        self.notify(f"Run {run_id} retried{where}.", title="Retry")
        self._after_action(run_id)

    def _after_action(self, run_id: str) -> None:
        """Refresh the run and, if following had stopped at its end, follow again."""
        if run_id != self.run_id:
            return
        follower = self.follower
        if follower is None or follower.state is LiveState.ENDED:
            self._follow(run_id, follower.last_event_id if follower else None)
        self.fetch_run(run_id)
        self.load_runs()

    def action_refresh(self) -> None:
        """Reload the list and the run now."""
        self.load_runs()
        if self.run_id is not None:
            self.fetch_run(self.run_id)

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Monitor actions for the command palette."""
        yield self.command(
            "Cancel run", "Cancel the selected run (x)", self.action_cancel_run,
            self._reason("cancel"),
        )  # fmt: skip
        yield self.command(
            "Retry run", "Run the selected run again from its failure (R)",
            self.action_retry_run, self._reason("retry"),
        )  # fmt: skip
        yield self.command(
            "Retry from node", "Run the selected run again from the selected node (F)",
            self.action_retry_from_node, self._reason("retry-node"),
        )  # fmt: skip
        yield SystemCommand(
            "Refresh runs", "Reload the runs and the run (ctrl+r)", self.action_refresh
        )
        yield SystemCommand(
            "Relayout the run's graph", "Lay the DAG out again (L)", self.canvas.relayout
        )
