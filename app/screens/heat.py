"""The designer's heat overlay: each node's p50/p95 duration over the workflow's recent runs.

``H`` toggles it.  ``GET /workflows/{id}/stats`` gives the percentiles; each node's border
takes a colour from cool to hot by its p95 against the slowest node's, and its bottom
border reads ``p95 <duration>``, so the slow node stands out while you design.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.screen import Screen

from app.refusal import refuse
from app.session import Session, describe_error
from app.widgets.canvas_view import CanvasView
from orchestrator.cli.remote.render import duration
from orchestrator.errors import DagqError
from orchestrator.wire.ops import NodeStats, WorkflowStats

HEAT_COLOURS = ("#5fafff", "#9ece6a", "#e0af68", "#ff9e64", "#ff5f5f")
"""Coolest to hottest."""
LAST_RUNS = 20


def heat_map(nodes: Mapping[str, NodeStats]) -> dict[str, tuple[str, str]]:
    """Node -> (colour by p95 against the slowest node's, ``p95 <duration>`` label)."""
    if not nodes:
        return {}
    slowest = max(s.p95_ms for s in nodes.values()) or 1
    out: dict[str, tuple[str, str]] = {}
    for node, s in nodes.items():
        level = min(len(HEAT_COLOURS) - 1, s.p95_ms * len(HEAT_COLOURS) // (slowest + 1))
        out[node] = (HEAT_COLOURS[level], f"p95 {duration(s.p95_ms) or '0ms'}")
    return out


class HeatScreen(Screen[None]):
    """A screen with a canvas of a saved workflow that can show its nodes' durations."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("H", "heat", "Heat", show=False),
    ]
    session: Session
    heat_on: bool = False
    stats: WorkflowStats | None = None

    def heat_workflow(self) -> str | None:
        """The saved workflow's id (None: not saved yet)."""
        raise NotImplementedError

    def action_heat(self) -> None:
        """Show or hide p50/p95 per node over the last runs."""
        canvas = self.query_one(CanvasView)
        if self.heat_on:
            self.heat_on = False
            canvas.set_heat({})
            return
        workflow_id = self.heat_workflow()
        if workflow_id is None:
            self.notify("Save the workflow and run it to see its nodes' durations.")
            return
        if not self.session.can("run:read"):
            refuse(self, self.session, "run:read", "show node durations", workflow_id)
            return
        self.load_heat(workflow_id)

    @work(exclusive=True, group="heat")
    async def load_heat(self, workflow_id: str) -> None:
        """Fetch the stats and colour the canvas."""
        try:
            stats = await self.session.call(
                self.session.client.workflow_stats(workflow_id, last=LAST_RUNS)
            )
        except DagqError as exc:
            self.notify(describe_error(exc), severity="error")
            return
        self.stats = stats
        if not stats.runs:
            self.notify("No finished run of this workflow yet: nothing to measure.")
            return
        self.heat_on = True
        self.query_one(CanvasView).set_heat(heat_map(stats.nodes))
        slowest = max(stats.nodes.items(), key=lambda kv: kv[1].p95_ms)
        self.notify(
            f"Durations over the last {stats.runs} runs; slowest: {slowest[0]} "
            f"(p50 {duration(slowest[1].p50_ms)}, p95 {duration(slowest[1].p95_ms)}).",
            title="Heat",
        )
