"""The monitor's keys for what happened in a run: replay, Gantt, and compare two runs.

``p`` replays the selected run on its canvas, ``g`` opens its Gantt chart, ``m`` marks
it for comparison and ``c`` compares the marked run with the selected one.  A base of
:class:`~app.screens.monitor.MonitorScreen`, kept apart so the monitor stays small.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from app.screens.ops_base import OpsScreen
from orchestrator.spec.model import WorkflowSpec


class RunInsightScreen(OpsScreen):
    """Replay / Gantt / compare actions over the run the screen shows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "replay", "Replay"),
        Binding("g", "gantt", "Gantt"),
        Binding("m", "mark_run", "Mark", show=False),
        Binding("c", "compare_runs", "Compare", show=False),
    ]
    run_id: str | None
    spec: WorkflowSpec | None
    marked_run: str | None = None
    """The run ``m`` marked, compared by ``c`` with the selected one."""

    def _insight_reason(self) -> str:
        if reason := self.blocked("run:read"):
            return reason
        return "" if self.run_id else "select a run first"

    def action_replay(self) -> None:
        """Replay the selected run event by event."""
        from app.screens.replay import ReplayScreen

        if reason := self._insight_reason():
            self.refuse(reason)
            return
        assert self.run_id is not None
        self.app.push_screen(ReplayScreen(self.session, self.run_id, self.spec))

    def action_gantt(self) -> None:
        """The selected run's Gantt chart and critical path."""
        from app.screens.gantt import GanttScreen

        if reason := self._insight_reason():
            self.refuse(reason)
            return
        assert self.run_id is not None
        self.app.push_screen(GanttScreen(self.session, self.run_id, self.spec))

    def action_mark_run(self) -> None:
        """Mark the selected run to compare it with another (``c``)."""
        if reason := self._insight_reason():
            self.refuse(reason)
            return
        self.marked_run = self.run_id
        self.notify(
            f"Run {self.run_id} marked: select another run and press c to compare.",
            title="Compare",
        )

    def action_compare_runs(self) -> None:
        """Compare the marked run (A) with the selected one (B)."""
        from app.screens.compare import CompareScreen

        if reason := self._insight_reason():
            self.refuse(reason)
            return
        if self.marked_run is None or self.marked_run == self.run_id:
            self.refuse("mark a run with m, then select another run and press c")
            return
        assert self.run_id is not None
        self.app.push_screen(CompareScreen(self.session, self.marked_run, self.run_id))
