"""The line above the monitor's canvas: which run, its status, and the live link's state.

``● live``, ``◍ reconnecting… (attempt 3)`` or ``■ ended`` is always shown with a mark
and a word, so a lost connection is visible at a glance (and without colour).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from app.live import STATE_COLOURS, LiveState, state_label
from app.text import safe
from app.widgets.ops_format import clock, duration_text, status_text
from orchestrator.vocab import RunStatus
from orchestrator.wire.runs import WorkflowRun

TITLE_WIDTH = 120
ERROR_WIDTH = 300
"""Cells of the run's title and error: the header cuts them at its width anyway, this
keeps a 10,000-character value from being laid out at all."""


def header_text(
    run: WorkflowRun | None,
    *,
    pending: str | None = None,
    title: str | None = None,
    state: LiveState = LiveState.IDLE,
    attempt: int = 0,
    detail: str | None = None,
) -> Text:
    """The header as text (pure: used by tests too).

    Line 1: the live link's state, the run's status, the workflow.  Line 2: the run
    id and its times.  Line 3, when the run failed: why.  Without ``run``, ``pending``
    is the id of the run being loaded.
    """
    if run is None and pending is None:
        return Text("No run selected: pick one in the list.", style="dim")
    line = Text(state_label(state, attempt), style=f"bold {STATE_COLOURS[state]}")
    if state is LiveState.RECONNECTING and detail:
        line.append(" ")
        line.append_text(safe(detail, width=60, style="dim"))
    line.append("   ")
    line.append_text(status_text(run.status if run is not None else RunStatus.PENDING))
    workflow = title or (run.workflowId if run is not None else "?")
    version = run.workflowVersion if run is not None else None
    title_text = safe(workflow, width=TITLE_WIDTH)
    line.append_text(
        Text.assemble("   ", title_text, f" v{version}" if version else "", style="bold")
    )
    line.append("\n")
    line.append_text(
        safe(run.runId if run is not None else pending, width=TITLE_WIDTH, style="dim")
    )
    if run is None:
        return line
    if run.startTime:
        line.append(f" · started {clock(run.startTime)}", style="dim")
    if run.duration is not None:
        line.append(f" · took {duration_text(run.duration)}", style="dim")
    if run.retries:
        line.append(f" · retried {run.retries}x", style="dim")
    parent = run.parent
    if parent is not None:
        where = f" · sub-workflow of {parent.runId} ({parent.nodeId}) · u: open it"
        line.append_text(safe(where, width=TITLE_WIDTH, style="dim"))
    error = run.error
    if error:
        line.append("\n")
        # One line (the header is three): the node details show the whole error.
        line.append_text(safe(f"✗ {error}", width=ERROR_WIDTH, style="#ff5f5f"))
    return line


class RunHeader(Static):
    """The selected run and the state of its live event stream."""

    DEFAULT_CSS = """
    RunHeader {
        height: auto; max-height: 3; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """A header with no run."""
        super().__init__(header_text(None), id=id, classes=classes)
        self._run: WorkflowRun | None = None
        self._pending: str | None = None
        self._title: str | None = None
        self.state = LiveState.IDLE
        self._attempt = 0
        self._detail: str | None = None

    @property
    def label(self) -> str:
        """The header's plain text (what tests assert on)."""
        return self._text().plain

    @property
    def label_text(self) -> str:
        """What the header shows now, whatever set it (a run or a message)."""
        return str(self.render())

    def _text(self) -> Text:
        return header_text(
            self._run,
            pending=self._pending,
            title=self._title,
            state=self.state,
            attempt=self._attempt,
            detail=self._detail,
        )

    def show_run(self, run: WorkflowRun | None, *, title: str | None = None) -> None:
        """Show ``run`` (the API's run view, as it is now); ``title`` is the workflow's name."""
        self._run = run.model_copy() if run is not None else None
        self._pending = None
        if title is not None or run is None:
            self._title = title
        self.update(self._text())

    def show_pending(self, run_id: str) -> None:
        """Show ``run_id`` as pending while it loads (the workflow's name stays)."""
        self._run, self._pending = None, run_id
        self.update(self._text())

    def show_state(self, state: LiveState, *, attempt: int = 0, detail: str | None = None) -> None:
        """Show the live link's state."""
        self.state, self._attempt, self._detail = state, attempt, detail
        self.update(self._text())
