"""The selected node of a run: status, attempts, timings, input, output, last error and
what its handler logged.

``show`` takes the API's ``NodeStatusView`` (plus what the spec says about the node:
its type and handler) and renders it; a queued node that no live worker offers shows
the API's ``waitingFor`` note prominently, since that is why the run is stuck.  With a
``logs_loader`` (the monitor gives one), the node's handler logs follow, fetched again
whenever the node's status or attempts change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from app.text import safe
from app.widgets.approval_view import approval_lines, signal_line
from app.widgets.map_items import progress_line
from app.widgets.ops_format import NO_VALUE, clock, duration_text, json_text, status_text
from orchestrator.errors import DagqError
from orchestrator.vocab import NodeStatus
from orchestrator.wire.runs import AttemptLogView, NodeStatusView, RunLogs

LOG_LINES_SHOWN = 200
"""Lines of one attempt the panel shows (the last ones; ``dagq runs logs`` has them all)."""
LABEL_STYLE = "bold"
WARN_STYLE = "bold #ffaf5f"
ERROR_STYLE = "#ff5f5f"


def describe_node(
    node: NodeStatusView | None,
    *,
    node_id: str | None = None,
    kind: str | None = None,
    handler: str | None = None,
    compensation: str | None = None,
) -> RenderableType:
    """The details of one node as a Rich renderable (pure: used by tests too)."""
    if node is None:
        if node_id is None:
            return Text("Select a node on the canvas to see its attempts, input and output.")
        return safe(f"{node_id}: this run has no state for it yet.")
    # The panel wraps: every value is whole here (lists and the canvas cut them).
    nid = node.nodeId or node_id or "?"
    head = safe(nid, style="bold")
    name = node.nodeName
    if name and name != nid:
        head.append("  ")
        head.append_text(safe(name, style="italic"))
    lines: list[RenderableType] = [head]

    def row(label: str, value: Text | str) -> None:
        line = Text(f"{label:<9}", style=LABEL_STYLE)
        line.append_text(value if isinstance(value, Text) else safe(value))
        lines.append(line)

    kind_text = kind or NO_VALUE
    if handler:
        kind_text += f" · {handler}"
    row("type", kind_text)
    row("status", status_text(node.status))
    row("attempts", str(node.attempts))
    row("started", clock(node.startTime, millis=True))
    row("ended", clock(node.endTime, millis=True))
    row("took", duration_text(node.duration))
    if node.dueTime:
        row("due", clock(node.dueTime, millis=True))
    if node.worker:
        row("worker", node.worker)
    if compensation:
        row("undo", compensation)
    if node.progress:
        row("items", progress_line(node.progress) + " · enter: list them")
    if node.takenEdges is not None:
        row("took edge", ", ".join(node.takenEdges) or NO_VALUE)
    if node.approval is not None:
        lines += approval_lines(node.approval)
    if node.awaits is not None:
        lines.append(signal_line(node.awaits))
    if node.waitingFor:
        lines.append(safe(f"⚠ waiting: {node.waitingFor}", multiline=True, style=WARN_STYLE))
    if node.lastError:
        lines.append(Text("last error", style=LABEL_STYLE))
        lines.append(safe(node.lastError, multiline=True, style=ERROR_STYLE))
    for key, value in (("input", node.input), ("output", node.output)):
        if value is not None:
            lines.append(Text(key, style=LABEL_STYLE))
            # JSON escapes controls in strings, but not bidi or other format characters.
            lines.append(safe(json_text(value, max_chars=1500), multiline=True))
    return Group(*lines)


def describe_logs(
    attempts: Sequence[AttemptLogView], *, run_id: str = "", node_id: str = ""
) -> list[RenderableType]:
    """The ``logs`` section: each attempt's header and its last lines (pure)."""
    if not attempts:
        return []
    out: list[RenderableType] = [Text("logs", style=LABEL_STYLE)]
    for attempt in attempts:
        head = Text(f"attempt {attempt.attempt} · ", style="italic")
        outcome = attempt.outcome
        head.append_text(status_text(NodeStatus.COMPLETED if outcome == "succeeded" else outcome))
        head.append_text(safe(f" · {attempt.worker}", style="italic"))
        out.append(head)
        lines = attempt.lines
        hidden = attempt.dropped + max(0, len(lines) - LOG_LINES_SHOWN)
        if hidden:
            more = f"… {hidden} earlier lines: dagq runs logs {run_id} {node_id}"
            out.append(safe(more, style="dim"))
        for line in lines[-LOG_LINES_SHOWN:]:
            row = Text(clock(line.at, millis=True) + " ", style="dim")
            level = safe(line.level, width=7, style="dim")
            level.pad_right(8 - level.cell_len)
            row.append_text(level)
            style = ERROR_STYLE if line.level in ("ERROR", "CRITICAL", "stderr") else ""
            row.append_text(safe(line.text, multiline=True, style=style))
            out.append(row)
    return out


LogsLoader = Callable[[str, str], Awaitable[RunLogs]]
"""``(run id, node id) -> the API's node logs``."""


def _plain(body: RenderableType) -> str:
    if isinstance(body, Text):
        return body.plain
    if isinstance(body, Group):
        return "\n".join(_plain(r) for r in body.renderables)
    return str(body)


class NodeDetails(VerticalScroll):
    """A scrollable panel with one node's details."""

    DEFAULT_CSS = """
    NodeDetails { height: 1fr; }
    NodeDetails > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty panel."""
        super().__init__(id=id, classes=classes)
        self.node_id: str | None = None
        self._text = ""
        self.logs_loader: LogsLoader | None = None
        """Fetches the node's handler logs (None: the panel shows none)."""
        self._body: RenderableType = describe_node(None)
        self._logs: list[RenderableType] = []
        self._logs_of: tuple[str, str, str, int] | None = None

    def compose(self) -> ComposeResult:
        """The body."""
        yield Static(describe_node(None), id="node-body")

    @property
    def text(self) -> str:
        """The panel's plain text (what tests read)."""
        return self._text

    def show(
        self,
        node: NodeStatusView | None,
        *,
        node_id: str | None = None,
        kind: str | None = None,
        handler: str | None = None,
        compensation: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """Show ``node`` (the API's node view), or a hint when there is none; with
        ``run_id``, its handler logs too (fetched when the node changed since)."""
        self.node_id = node.nodeId if node is not None else node_id
        self._body = describe_node(
            node, node_id=node_id, kind=kind, handler=handler, compensation=compensation
        )
        key = None
        if node is not None and run_id and self.node_id:
            key = (run_id, self.node_id, str(node.status), node.attempts)
        if key is None or key[:2] != (self._logs_of or ("", ""))[:2]:
            self._logs = []
        if key is not None and key != self._logs_of and self.logs_loader is not None:
            self._logs_of = key
            self._fetch_logs(key[0], key[1])
        elif key is None:
            self._logs_of = None
        self._render_body()

    def show_logs(self, logs: Sequence[RenderableType]) -> None:
        """Show ``logs`` after the details (the replay gives the logs as of its cursor;
        a later :meth:`show` without ``run_id`` clears them)."""
        self._logs = list(logs)
        self._render_body()

    def _render_body(self) -> None:
        body = Group(self._body, *self._logs) if self._logs else self._body
        self._text = _plain(body)
        self.query_one("#node-body", Static).update(body)

    @work(exclusive=True, group="node-logs")
    async def _fetch_logs(self, run_id: str, node_id: str) -> None:
        loader = self.logs_loader
        if loader is None:
            return
        try:
            answer = await loader(run_id, node_id)
        except DagqError:
            return  # the details stay; the logs are a bonus
        if self._logs_of is None or self._logs_of[:2] != (run_id, node_id):
            return  # another node was chosen meanwhile
        logs = describe_logs(answer.attempts, run_id=run_id, node_id=node_id)
        if logs or self._logs:  # nothing said, nothing shown: no redraw
            self._logs = logs
            self._render_body()
