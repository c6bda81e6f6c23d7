"""Two runs of one workflow side by side: branches, outputs, durations, versions.

``GET /runs/{a}/diff?other={b}``.  The canvas draws run B's workflow version (the union
of both versions when they differ, with the designer's version-diff marks), the nodes
whose branch differed highlighted; below, the differing branches, each node's output
diff and each node's duration in both runs with the change.  Escape goes back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from app.canvas.model import as_canvas_graph
from app.screens.ops_base import OpsScreen
from app.screens.replay import fetch_spec, fit_canvas
from app.session import Session
from app.text import safe
from app.widgets.canvas_view import CanvasView
from orchestrator.cli.remote.render import duration
from orchestrator.errors import DagqError
from orchestrator.spec.diff import DiffKind, compare
from orchestrator.spec.model import WorkflowSpec
from orchestrator.wire.ops import RunDiff


def _ms(value: object) -> str:
    return duration(value) if isinstance(value, int | float) else "-"


def _short(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def describe(diff: Mapping[str, Any]) -> Text:
    """The comparison as text: versions, branches, outputs, durations."""
    a, b = diff["runs"]
    va, vb = diff["versions"]
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append("A ", style="bold #7dcfff")
    out.append_text(safe(f"{a} (v{va})  ", width=60))
    out.append("B ", style="bold #bb9af7")
    out.append_text(safe(f"{b} (v{vb})", width=60))
    out.append("\n")
    if diff["versions_differ"]:
        kinds = ", ".join(f"{n} {k}" for n, k in sorted(diff["version_diff"].items()))
        out.append(f"versions differ (v{va} → v{vb}): ", style="bold #ffd75f")
        out.append_text(safe(kinds or "layout only", width=200))
        out.append("\n")
    out.append("Branches\n", style="bold underline")
    if not diff["branches"]:
        out.append("  the same branches\n", style="dim")
    for br in diff["branches"]:
        out.append("  ")
        out.append_text(safe(str(br["node"]), width=24))
        out.append(f"  A {br['a'] or '-'}  B {br['b'] or '-'}")
        if br.get("taken_a") != br.get("taken_b"):
            edges = safe(f"  edges A {br.get('taken_a')} B {br.get('taken_b')}", width=120)
            edges.stylize("#ff9e64")
            out.append_text(edges)
        out.append("\n")
    out.append("Outputs\n", style="bold underline")
    if not diff["outputs"]:
        out.append("  the same outputs\n", style="dim")
    for node, changes in diff["outputs"].items():
        for change in changes:
            out.append("  ")
            out.append_text(safe(f"{node} {change['path']} {change['op']}", width=50))
            out.append("  A ")
            out.append_text(safe(_short(change.get("a", "-")), width=30))
            out.append("  B ")
            out.append_text(safe(_short(change.get("b", "-")), width=30))
            out.append("\n")
    out.append("Durations (A → B, change; time running)\n", style="bold underline")
    for d in diff["durations"]:
        change = d.get("change_ms")
        style = "#ff5f5f" if change and change > 0 else "#9ece6a" if change else ""
        out.append("  ")
        out.append_text(safe(str(d["node"]), width=24))
        out.append(f"  {_ms(d['a_ms'])} → {_ms(d['b_ms'])}  ")
        sign = "+" if (change or 0) >= 0 else "-"
        out.append("-" if change is None else f"{sign}{duration(abs(change))}", style=style)
        out.append(f"  ({_ms(d.get('a_exec_ms'))} / {_ms(d.get('b_exec_ms'))})\n", style="dim")
    out.rstrip()
    return out


class CompareScreen(OpsScreen):
    """Run A against run B."""

    CSS_PATH = "insight.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, session: Session, run_a: str, run_b: str) -> None:
        super().__init__(session)
        self.run_a, self.run_b = run_a, run_b
        self.diff: RunDiff | None = None

    def compose(self) -> ComposeResult:
        """Canvas over the differences."""
        yield Header(show_clock=False, icon="◈")
        yield CanvasView(id="compare-canvas")
        with VerticalScroll(id="compare-pane"):
            yield Static("comparing…", id="compare-text")
        yield Footer()

    def on_mount(self) -> None:
        """Titles, then the comparison."""
        self.sub_title = "Compare runs"
        self.query_one("#compare-canvas").border_title = "Run B (differing branches in orange)"
        self.query_one("#compare-pane").border_title = "A vs B"
        self.query_one("#compare-pane").focus()
        self.load()

    @work(exclusive=True, group="compare")
    async def load(self) -> None:
        """Fetch the comparison and both runs' versions."""
        diff = await self.api(self.session.client.diff_runs(self.run_a, self.run_b))
        if diff is None:
            self.query_one("#compare-text", Static).update("could not compare the runs")
            return
        self.diff = diff
        va, vb = diff.versions
        spec_b = await fetch_spec(self, diff.workflow, vb)
        spec_a = await fetch_spec(self, diff.workflow, va) if va != vb else spec_b
        canvas = self.query_one(CanvasView)
        try:
            if spec_a is not None and spec_b is not None and va != vb:
                union, _ = compare(spec_a.model_dump(mode="json"), spec_b.model_dump(mode="json"))
                graph = as_canvas_graph(WorkflowSpec.model_validate(union))
                canvas.set_diff(cast("dict[str, DiffKind]", diff.version_diff))
            else:
                nodes = [d["node"] for d in diff.durations]
                graph = as_canvas_graph(spec_b or (nodes, []))
            canvas.set_graph(graph)
            self.call_after_refresh(fit_canvas, canvas, graph)
        except (DagqError, ValueError) as exc:
            self.notify(str(exc), severity="error")
        canvas.set_highlight(b["node"] for b in diff.branches)
        self.query_one("#compare-text", Static).update(describe(diff.as_json()))

    def action_back(self) -> None:
        """Back."""
        self.dismiss()
