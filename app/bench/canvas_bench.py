"""Benchmark of the designer's canvas: layout, and rendering a full viewport.

``bench_canvas(nodes, repeat)`` lays out a generated workflow-like graph and renders
a 120x40 viewport over its busiest part, ``repeat`` times each, and reports the
p50/p99 in milliseconds.  A canvas *update* (a status change, a selection, a scroll)
is one render; a layout happens when the graph changes or on re-layout.  The seed's
target is 16 ms per update at p50.  ``python -m app.bench.canvas_bench`` prints the
numbers for 100 and 500 nodes.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from typing import Any

from app.canvas.glyphs import STATUSES
from app.canvas.layout import compute_layout
from app.canvas.model import CanvasEdge, CanvasGraph, CanvasNode
from app.canvas.render import Decorations, Scene, render_lines
from orchestrator.errors import BadRequest

VIEWPORT = (120, 40)
TARGET_P50_MS = 16.0


def generate_graph(nodes: int, seed: int = 7) -> CanvasGraph:
    """A deterministic workflow-shaped DAG of ``nodes`` nodes.

    Mostly tasks with one or two inputs from the recent past (so layers stay a few
    nodes wide, as real workflows do), a decision every tenth node with labelled
    true/false branches, some parallel joins, and a compensation node beside one
    task in twenty.
    """
    if nodes < 1:
        raise BadRequest("a benchmark graph needs at least one node", code="BENCH_INPUT")
    rng = random.Random(seed)
    out: list[CanvasNode] = []
    edges: list[CanvasEdge] = []
    ids: list[str] = []
    for i in range(nodes):
        kind = "decision" if i % 10 == 5 else "parallel" if i % 10 == 9 else "task"
        if i % 20 == 13 and ids:
            task = ids[-1]
            out.append(CanvasNode(f"undo_{i}", f"undo step {i}", "compensation", compensates=task))
            continue
        node_id = f"n{i}"
        out.append(CanvasNode(node_id, f"{kind} {i}", kind))
        if ids:
            parents = {ids[max(0, len(ids) - rng.randint(1, 6))]}
            if rng.random() < 0.3:
                parents.add(ids[max(0, len(ids) - rng.randint(1, 15))])
            for parent in sorted(parents):
                label = None
                if parent.startswith("n") and out[_index(out, parent)].kind == "decision":
                    label = rng.choice(["true", "false"])
                edges.append(CanvasEdge(parent, node_id, label=label))
        ids.append(node_id)
    return CanvasGraph(tuple(out), tuple(edges))


def _index(nodes: list[CanvasNode], node_id: str) -> int:
    for i in range(len(nodes) - 1, -1, -1):
        if nodes[i].id == node_id:
            return i
    raise KeyError(node_id)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _summary(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {"p50": round(_percentile(ms, 0.5), 3), "p99": round(_percentile(ms, 0.99), 3)}


def bench_canvas(nodes: int, repeat: int) -> dict[str, Any]:
    """Time layout and a full-viewport render of a generated ``nodes``-node graph.

    Returns ``{"nodes", "edges", "repeat", "canvas": [w, h], "viewport": [w, h],
    "layout_ms": {"p50", "p99"}, "render_ms": {"p50", "p99"}, "target_p50_ms",
    "meets_target"}``; ``layout_ms`` includes rasterising the layout into a scene.
    """
    if repeat < 1:
        raise BadRequest("repeat must be at least 1", code="BENCH_INPUT")
    graph = generate_graph(nodes)
    layout_s: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        layout = compute_layout(graph, relayout=True)
        scene = Scene(layout)
        layout_s.append(time.perf_counter() - start)
    width, height = VIEWPORT
    # The busiest viewport: centred on the middle node, where layers are widest.
    middle = layout.boxes[graph.nodes[len(graph.nodes) // 2].id]
    x0 = max(0, min(layout.width - width, middle.cx - width // 2))
    y0 = max(0, min(layout.height - height, middle.cy - height // 2))
    ids = [n.id for n in graph.nodes]
    render_s: list[float] = []
    for i in range(repeat):
        # Each update changes what a monitor changes: statuses and the selection.
        deco = Decorations(
            statuses={n: STATUSES[(i + k) % len(STATUSES)] for k, n in enumerate(ids)},
            selected=ids[i % len(ids)],
            marked_nodes=frozenset(ids[::37]),
        )
        start = time.perf_counter()
        render_lines(scene, deco, x0, y0, width, height)
        render_s.append(time.perf_counter() - start)
    render = _summary(render_s)
    return {
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "repeat": repeat,
        "canvas": [layout.width, layout.height],
        "viewport": [width, height],
        "layout_ms": _summary(layout_s),
        "render_ms": render,
        "target_p50_ms": TARGET_P50_MS,
        "meets_target": render["p50"] < TARGET_P50_MS,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark for 100 and 500 nodes (or ``--nodes``) as JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m app.bench.canvas_bench")
    parser.add_argument("--nodes", type=int, action="append", help="graph size (repeatable)")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    try:
        for nodes in args.nodes or [100, 500]:
            sys.stdout.write(json.dumps(bench_canvas(nodes, args.repeat)) + "\n")
    except BadRequest as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
