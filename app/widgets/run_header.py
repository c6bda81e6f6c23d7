"""The line above the monitor's canvas: which run, its status, and the live link's state.

``● live``, ``◍ reconnecting… (attempt 3)`` or ``■ ended`` is always shown with a mark
and a word, so a lost connection is visible at a glance (and without colour).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widgets import Static

from app.live import STATE_COLOURS, LiveState, state_label
from app.text import safe
from app.widgets.ops_format import clock, duration_text, status_text

TITLE_WIDTH = 120
ERROR_WIDTH = 300
"""Cells of the run's title and error: the header cuts them at its width anyway, this
keeps a 10,000-character value from being laid out at all."""


def header_text(
    run: Mapping[str, Any] | None,
    *,
    title: str | None = None,
    state: LiveState = LiveState.IDLE,
    attempt: int = 0,
    detail: str | None = None,
) -> Text:
    """The header as text (pure: used by tests too).

    Line 1: the live link's state, the run's status, the workflow.  Line 2: the run
    id and its times.  Line 3, when the run failed: why.
    """
    if run is None:
        return Text("No run selected: pick one in the list.", style="dim")
    line = Text(state_label(state, attempt), style=f"bold {STATE_COLOURS[state]}")
    if state is LiveState.RECONNECTING and detail:
        line.append(" ")
        line.append_text(safe(detail, width=60, style="dim"))
    line.append("   ")
    line.append_text(status_text(str(run.get("status"))))
    workflow = title or run.get("workflowId", "?")
    version = run.get("workflowVersion")
    title_text = safe(workflow, width=TITLE_WIDTH)
    line.append_text(
        Text.assemble("   ", title_text, f" v{version}" if version else "", style="bold")
    )
    line.append("\n")
    line.append_text(safe(run.get("runId", "?"), width=TITLE_WIDTH, style="dim"))
    if run.get("startTime"):
        line.append(f" · started {clock(run.get('startTime'))}", style="dim")
    if run.get("duration") is not None:
        line.append(f" · took {duration_text(run.get('duration'))}", style="dim")
    if run.get("retries"):
        line.append(f" · retried {run['retries']}x", style="dim")
    parent = run.get("parent")
    if isinstance(parent, Mapping):
        where = f" · sub-workflow of {parent.get('runId')} ({parent.get('nodeId')}) · u: open it"
        line.append_text(safe(where, width=TITLE_WIDTH, style="dim"))
    error = run.get("error")
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
        self._run: dict[str, Any] | None = None
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
            title=self._title,
            state=self.state,
            attempt=self._attempt,
            detail=self._detail,
        )

    def show_run(self, run: Mapping[str, Any] | None, *, title: str | None = None) -> None:
        """Show ``run`` (the API's run view or summary); ``title`` is the workflow's name."""
        self._run = dict(run) if run is not None else None
        if title is not None or run is None:
            self._title = title
        self.update(self._text())

    def show_state(self, state: LiveState, *, attempt: int = 0, detail: str | None = None) -> None:
        """Show the live link's state."""
        self.state, self._attempt, self._detail = state, attempt, detail
        self.update(self._text())
