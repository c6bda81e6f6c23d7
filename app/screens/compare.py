"""Two runs of one workflow side by side: branches, outputs, durations, versions.

``GET /runs/{a}/diff?other={b}``.  The canvas draws run B's workflow version (the union
of both versions when they differ, with the designer's version-diff marks), the nodes
whose branch differed highlighted and those whose output differs marked ``≠ output``
(a colour and a word: visible without colour too); below, the differing branches, how
many nodes' outputs differ and each one's JSON diff, and each node's duration in both
runs with the change.  Escape goes back.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from app.canvas.model import CanvasGraph, as_canvas_graph
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


OUTPUT_DIFFERS = "≠ output"
"""The word on a canvas node (and the glyph in the text) whose output differs."""
DIFFERS_STYLE = "bold #f7768e"
DIFFERS_COLOUR = "#f7768e"


def compared_nodes(diff: RunDiff) -> list[str]:
    """Every node the comparison speaks of, in the order they ran."""
    names = [str(d["node"]) for d in diff.durations]
    names += [str(b["node"]) for b in diff.branches]
    return list(dict.fromkeys([*names, *diff.outputs]))


def differing_outputs(diff: RunDiff) -> list[str]:
    """The nodes whose outputs differ between the two runs, in the order they ran."""
    return [node for node in compared_nodes(diff) if diff.outputs.get(node)]


def mark_differing(graph: CanvasGraph, nodes: set[str]) -> CanvasGraph:
    """``graph`` with ``≠`` before the text of ``nodes``: seen at every zoom, without colour
    (the canvas's one-line boxes at small sizes have no border to colour or label)."""
    marked = tuple(replace(n, label=f"≠ {n.text}") if n.id in nodes else n for n in graph.nodes)
    return CanvasGraph(marked, graph.edges)


def describe(diff: RunDiff) -> Text:
    """The comparison as text: versions, branches, outputs, durations."""
    a, b = diff.runs
    va, vb = diff.versions
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append("A ", style="bold #7dcfff")
    out.append_text(safe(f"{a} (v{va})  ", width=60))
    out.append("B ", style="bold #bb9af7")
    out.append_text(safe(f"{b} (v{vb})", width=60))
    out.append("\n")
    if diff.versions_differ:
        kinds = ", ".join(f"{n} {k}" for n, k in sorted(diff.version_diff.items()))
        out.append(f"versions differ (v{va} → v{vb}): ", style="bold #ffd75f")
        out.append_text(safe(kinds or "layout only", width=200))
        out.append("\n")
    out.append("Branches\n", style="bold underline")
    if not diff.branches:
        out.append("  the same branches\n", style="dim")
    for br in diff.branches:
        out.append("  ")
        out.append_text(safe(str(br["node"]), width=24))
        out.append(f"  A {br['a'] or '-'}  B {br['b'] or '-'}")
        if br.get("taken_a") != br.get("taken_b"):
            edges = safe(f"  edges A {br.get('taken_a')} B {br.get('taken_b')}", width=120)
            edges.stylize("#ff9e64")
            out.append_text(edges)
        out.append("\n")
    _outputs(out, diff)
    differing = set(differing_outputs(diff))
    out.append("Durations (A → B, change; time running)\n", style="bold underline")
    for d in diff.durations:
        change = d.get("change_ms")
        style = "#ff5f5f" if change and change > 0 else "#9ece6a" if change else ""
        out.append("≠ " if d["node"] in differing else "  ", style=DIFFERS_STYLE)
        out.append_text(safe(str(d["node"]), width=24))
        out.append(f"  {_ms(d['a_ms'])} → {_ms(d['b_ms'])}  ")
        sign = "+" if (change or 0) >= 0 else "-"
        out.append("-" if change is None else f"{sign}{duration(abs(change))}", style=style)
        out.append(f"  ({_ms(d.get('a_exec_ms'))} / {_ms(d.get('b_exec_ms'))})\n", style="dim")
    out.rstrip()
    return out


def _outputs(out: Text, diff: RunDiff) -> None:
    """The outputs section: how many nodes differ, each with its changes, then the rest."""
    differing = differing_outputs(diff)
    same = [n for n in compared_nodes(diff) if n not in differing]
    count = len(differing)
    out.append("Outputs", style="bold underline")
    if not count:
        out.append("  the same in both runs\n", style="dim")
    else:
        noun = "node differs" if count == 1 else "nodes differ"
        out.append(f"  ≠ {count} {noun}\n", style=DIFFERS_STYLE)
    for node in differing:
        out.append("  ≠ ", style=DIFFERS_STYLE)
        out.append_text(safe(node, width=40, style=DIFFERS_STYLE))
        out.append("  DIFFERS\n", style=DIFFERS_STYLE)
        for change in diff.outputs[node]:
            out.append("      ")
            out.append_text(safe(f"{change['path']} {change['op']}", width=44))
            out.append("  A ")
            out.append_text(safe(_short(change.get("a", "-")), width=30))
            out.append("  B ")
            out.append_text(safe(_short(change.get("b", "-")), width=30))
            out.append("\n")
    if same and count:
        out.append("  = same: ", style="dim")
        out.append_text(safe(", ".join(same), width=200, style="dim"))
        out.append("\n")


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
        differing = differing_outputs(diff)
        try:
            if spec_a is not None and spec_b is not None and va != vb:
                union, _ = compare(spec_a.model_dump(mode="json"), spec_b.model_dump(mode="json"))
                graph = as_canvas_graph(WorkflowSpec.model_validate(union))
                canvas.set_diff(cast("dict[str, DiffKind]", diff.version_diff))
            else:
                nodes = [d["node"] for d in diff.durations]
                graph = as_canvas_graph(spec_b or (nodes, []))
            graph = mark_differing(graph, set(differing))
            canvas.set_graph(graph)
            self.call_after_refresh(self._fit, canvas, graph, differing[:1])
        except (DagqError, ValueError) as exc:
            self.notify(str(exc), severity="error")
        canvas.set_highlight(b["node"] for b in diff.branches)
        canvas.set_heat({node: (DIFFERS_COLOUR, OUTPUT_DIFFERS) for node in differing})
        count = "1 output differs" if len(differing) == 1 else f"{len(differing)} outputs differ"
        canvas.border_title = safe(f"Run B · ≠ {count} · differing branches in orange")
        self.query_one("#compare-text", Static).update(describe(diff))

    def _fit(self, canvas: CanvasView, graph: CanvasGraph, reveal: list[str]) -> None:
        """Fit the graph's height, then (once drawn at that zoom) scroll to ``reveal``."""
        fit_canvas(canvas, graph)
        for node in reveal:
            self.call_after_refresh(canvas.scroll_to_node, node)

    def action_back(self) -> None:
        """Back."""
        self.dismiss()
