"""Deterministic layered layout of a workflow graph, in character cells.

:func:`compute_layout` is the entry point.  With no saved positions (or when a
re-layout is asked) it builds a top-to-bottom Sugiyama layout (:mod:`app.canvas.layers`):
layers by longest path from the entries, barycenter crossing reduction, columns by
least squares, then orthogonal edge routes through per-gap *tracks* so that no two
unrelated horizontal runs share a row.  Compensation nodes that undo a task sit in
the task's side lane, to its right, joined by a dashed link; the others are laid
out like any node.  When nodes carry saved positions they keep them at zoom 1 (new
nodes are placed next to their neighbours, overlaps pushed down) and edges are routed
freely; the compact zooms keep that drawing's arrangement — its rows, and the order of
the nodes in each — and lay it out with the layered machinery at their own scale, so a
diamond the designer drew is the same diamond in the monitor's overview.

The same input always gives the same layout: every tie breaks on the listed order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from rich.cells import cell_len

from app.canvas.layers import Hierarchy, build_hierarchy, order_layers, place_x
from app.canvas.model import (
    Box,
    CanvasEdge,
    CanvasGraph,
    CanvasNode,
    Layout,
    Point,
    Route,
    RouteKind,
    as_canvas_graph,
)
from app.canvas.routing import Occupancy, route_free, self_loop, simplify
from app.text import clip, width_of
from orchestrator.errors import BadRequest


@dataclass(frozen=True, slots=True)
class Metrics:
    """The geometry of one zoom level."""

    zoom: int
    box_h: int
    min_w: int
    max_w: int
    chrome: int
    """Cells of a box that are not label text (borders, glyph, status mark)."""
    hgap: int
    dummy_gap: int
    side_gap: int
    stub: int
    """Rows of plain vertical line under a box before an edge may turn."""
    label_max: int
    """Longest edge label drawn (0: none at this zoom)."""
    scale: tuple[float, float]
    """Saved positions are zoom-1 cells; this maps them to this zoom's cells."""
    margin: int


ZOOM_LEVELS: Mapping[int, Metrics] = MappingProxyType(
    {
        1: Metrics(1, 3, 9, 24, 6, 3, 2, 3, 1, 12, (1.0, 1.0), 1),
        2: Metrics(2, 1, 5, 18, 5, 2, 1, 2, 0, 8, (0.6, 0.5), 1),
        3: Metrics(3, 1, 3, 8, 2, 1, 1, 2, 0, 5, (0.35, 0.4), 0),
    }
)


def metrics_for(zoom: int) -> Metrics:
    """The metrics of ``zoom`` (1 full boxes, 2 one-line boxes, 3 overview)."""
    try:
        return ZOOM_LEVELS[zoom]
    except KeyError:
        raise BadRequest(
            f"zoom must be one of {sorted(ZOOM_LEVELS)}, not {zoom!r}", code="CANVAS_ZOOM"
        ) from None


def box_width(text: str, metrics: Metrics) -> int:
    """Width of a node's box: its label (as drawn) plus chrome, clamped to the zoom's bounds."""
    return max(metrics.min_w, min(metrics.max_w, width_of(text, metrics.max_w) + metrics.chrome))


def compute_layout(
    graph: Any,
    *,
    zoom: int = 1,
    relayout: bool = False,
    positions: Mapping[str, tuple[int, int]] | None = None,
) -> Layout:
    """Lay out ``graph`` (a ``WorkflowSpec``, ``CanvasGraph`` or ``(nodes, edges)``).

    ``positions`` (zoom-1 cells) override the nodes' saved positions; with
    ``relayout`` every saved position is ignored and the automatic layout used.
    Raises :class:`BadRequest` for input the canvas cannot understand.
    """
    g = as_canvas_graph(graph)
    metrics = metrics_for(zoom)
    saved: dict[str, tuple[int, int]] = {}
    if not relayout:
        saved = {n.id: n.position for n in g.nodes if n.position is not None}
        saved.update({k: v for k, v in (positions or {}).items() if k in g.by_id})
    if not saved:
        return _auto_layout(g, metrics)
    if zoom == 1:
        return _explicit_layout(g, metrics, saved)
    # A compact zoom keeps the arrangement of the saved drawing (its rows, the order
    # of the nodes in each row) and lays it out at its own scale: scaling the saved
    # cells would stagger boxes that no longer fit where they were.
    return _auto_layout(
        g, metrics, arrangement=_arrangement(_explicit_layout(g, ZOOM_LEVELS[1], saved))
    )


def _arrangement(drawn: Layout) -> dict[str, tuple[int, int]]:
    """Each node's row and centre column in a drawing: rows are the boxes that share
    a line (a box starting lower than the row's first one ends starts the next row)."""
    out: dict[str, tuple[int, int]] = {}
    row, row_bottom = -1, -1
    for node_id, box in sorted(drawn.boxes.items(), key=lambda kv: (kv[1].y, kv[1].x)):
        if box.y > row_bottom:
            row, row_bottom = row + 1, box.bottom
        out[node_id] = (row, box.cx)
    return out


def _side_lanes(g: CanvasGraph) -> dict[str, list[str]]:
    """Task id -> the compensation nodes drawn to its right, in listed order."""
    lanes: dict[str, list[str]] = {}
    for node in g.nodes:
        task = g.by_id.get(node.compensates or "")
        if node.kind == "compensation" and task is not None and task.kind != "compensation":
            lanes.setdefault(task.id, []).append(node.id)
    return lanes


def _label(edge: CanvasEdge, metrics: Metrics) -> str | None:
    if not edge.label or metrics.label_max <= 0:
        return None
    return clip(" ".join(edge.label.split()), metrics.label_max)


@dataclass(slots=True)
class _Segment:
    edge: int
    upper: int
    lower: int
    x0: int
    x1: int
    track: int = -1


def _assign_tracks(segments: list[_Segment]) -> int:
    """Give each bending segment of one gap a track row; return how many rows it takes.

    Two segments may share a row when their horizontal runs stay a cell apart, or when
    they leave the same vertex (a fork) or enter the same vertex (a join).
    """
    rows: list[list[_Segment]] = []
    bending = [s for s in segments if s.x0 != s.x1]
    bending.sort(key=lambda s: (min(s.x0, s.x1), max(s.x0, s.x1), s.edge))
    for seg in bending:
        lo, hi = min(seg.x0, seg.x1), max(seg.x0, seg.x1)
        for index, row in enumerate(rows):
            if all(
                other.upper == seg.upper
                or other.lower == seg.lower
                or lo > max(other.x0, other.x1) + 1
                or hi < min(other.x0, other.x1) - 1
                for other in row
            ):
                seg.track = index
                row.append(seg)
                break
        else:
            seg.track = len(rows)
            rows.append([seg])
    return len(rows)


def _auto_layout(
    g: CanvasGraph, m: Metrics, *, arrangement: Mapping[str, tuple[int, int]] | None = None
) -> Layout:
    """The layered layout; with ``arrangement`` (node -> row, column of a saved
    drawing) the rows and the order within them are the drawing's, not computed."""
    lanes = _side_lanes(g)
    in_lane = {c for comps in lanes.values() for c in comps}
    units = [n for n in g.nodes if n.id not in in_lane]
    index = {n.id: i for i, n in enumerate(units)}
    width = {n.id: box_width(n.text, m) for n in g.nodes}

    layered: list[CanvasEdge] = []
    other: list[CanvasEdge] = []
    dropped: list[str] = []
    for edge in g.edges:
        if edge.source not in g.by_id or edge.target not in g.by_id:
            dropped.append(edge.key)
        elif (
            edge.source in index
            and edge.target in index
            and edge.source != edge.target
            and (arrangement is None or arrangement[edge.source][0] < arrangement[edge.target][0])
        ):
            layered.append(edge)
        else:
            other.append(edge)  # with an arrangement: an edge along a row or upwards

    pairs = [(index[e.source], index[e.target]) for e in layered]
    if arrangement is None:
        h = build_hierarchy(len(units), pairs)
        order_layers(h)
    else:
        h = _arranged(units, pairs, arrangement)
    widths, anchors = [], []
    for v in range(len(h.layer)):
        if v < h.real:
            node_id = units[v].id
            lane = lanes.get(node_id, [])
            widths.append(width[node_id] + sum(m.side_gap + width[c] for c in lane))
            anchors.append(width[node_id] // 2)
        else:
            widths.append(1)
            anchors.append(0)
    left = place_x(h, widths, anchors, m.hgap, m.dummy_gap)
    cx = [left[v] + anchors[v] + m.margin for v in range(len(h.layer))]

    depth = len(h.order)
    gaps: list[list[_Segment]] = [[] for _ in range(max(depth - 1, 0))]
    for e_index, chain in enumerate(h.chains):
        for a, b in itertools.pairwise(chain):
            gaps[h.layer[a]].append(_Segment(e_index, a, b, cx[a], cx[b]))
    tracks = [_assign_tracks(segs) for segs in gaps]
    label_rows = [
        int(
            any(
                s.lower < h.real and not h.reversed[s.edge] and _label(layered[s.edge], m)
                for s in segs
            )
        )
        for segs in gaps
    ]
    top = [m.margin] * depth
    for level in range(1, depth):
        prev = level - 1
        rows = m.stub + tracks[prev] + label_rows[prev] + 1
        top[level] = top[prev] + m.box_h + rows

    boxes: dict[str, Box] = {}
    layers: dict[str, int] = {}
    routes: list[Route] = []
    for v in range(h.real):
        node_id = units[v].id
        level = h.layer[v]
        box = Box(cx[v] - width[node_id] // 2, top[level], width[node_id], m.box_h)
        boxes[node_id] = box
        layers[node_id] = level
        prev_box, prev_id = box, node_id
        for comp in lanes.get(node_id, []):
            comp_box = Box(prev_box.right + 1 + m.side_gap, box.y, width[comp], m.box_h)
            boxes[comp] = comp_box
            layers[comp] = level
            link = ((prev_box.right + 1, box.cy), (comp_box.x - 1, box.cy))
            routes.append(Route(f"{prev_id}~{comp}", prev_id, comp, link, "link"))
            prev_box, prev_id = comp_box, comp

    track_of = {(s.edge, s.upper): s.track for segs in gaps for s in segs}
    for e_index, edge in enumerate(layered):
        chain = h.chains[e_index]
        points: list[Point] = [(cx[chain[0]], top[h.layer[chain[0]]] + m.box_h)]
        for a, b in itertools.pairwise(chain):
            if cx[a] != cx[b]:
                row = top[h.layer[a]] + m.box_h + m.stub + track_of[(e_index, a)]
                points += [(cx[a], row), (cx[b], row)]
            points.append((cx[b], top[h.layer[b]] - 1))
        label = _label(edge, m)
        kind: RouteKind = "flow"
        if h.reversed[e_index]:
            points.reverse()
            kind = "back"
        path = simplify(points)
        end = path[-1]
        label_at: Point | None = None
        if label:
            gap_has_label_row = kind == "flow" and label_rows[h.layer[chain[-1]] - 1]
            label_at = (end[0] + 2, end[1] - 1 if gap_has_label_row else end[1])
        routes.append(Route(edge.key, edge.source, edge.target, path, kind, label, label_at))

    occupancy = Occupancy()
    for edge in other:
        routes.append(_free_route(edge, boxes, m, occupancy))
    explicit = arrangement is not None
    return _finish(g, boxes, routes, m, explicit=explicit, layers=layers, dropped=dropped)


def _arranged(
    units: list[CanvasNode],
    pairs: list[tuple[int, int]],
    arrangement: Mapping[str, tuple[int, int]],
) -> Hierarchy:
    """The hierarchy of a saved drawing: its rows as layers (empty rows dropped), each
    ordered by column; a long edge's bends sit between its ends' columns."""
    rows = sorted({arrangement[n.id][0] for n in units})
    level = {r: i for i, r in enumerate(rows)}
    h = build_hierarchy(len(units), pairs, [level[arrangement[n.id][0]] for n in units])
    column = [float(arrangement[n.id][1]) for n in units] + [0.0] * (len(h.layer) - h.real)
    for chain in h.chains:
        if len(chain) > 2:
            top, bottom = column[chain[0]], column[chain[-1]]
            for k, dummy in enumerate(chain[1:-1], 1):
                column[dummy] = top + (bottom - top) * k / (len(chain) - 1)
    h.order = [sorted(vertices, key=lambda v: (column[v], v)) for vertices in h.order]
    return h


def _free_route(edge: CanvasEdge, boxes: Mapping[str, Box], m: Metrics, occ: Occupancy) -> Route:
    source, target = boxes[edge.source], boxes[edge.target]
    label = _label(edge, m)
    if edge.source == edge.target:
        return Route(edge.key, edge.source, edge.target, self_loop(source), "self", label, None)
    points, label_at = route_free(edge.source, edge.target, source, target, m.stub, occ)
    kind: RouteKind = "flow" if points[-1][1] > points[0][1] else "back"
    return Route(
        edge.key, edge.source, edge.target, points, kind, label, label_at if label else None
    )


def _explicit_layout(g: CanvasGraph, m: Metrics, saved: Mapping[str, tuple[int, int]]) -> Layout:
    sx, sy = m.scale
    boxes: dict[str, Box] = {}
    for node in g.nodes:
        if node.id in saved:
            x, y = saved[node.id]
            boxes[node.id] = Box(
                max(0, round(x * sx)), max(0, round(y * sy)), box_width(node.text, m), m.box_h
            )
    pitch = m.stub + 2 + (1 if m.label_max else 0)
    preds: dict[str, list[str]] = {n.id: [] for n in g.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in g.nodes}
    for edge in g.edges:
        if edge.source in preds and edge.target in preds and edge.source != edge.target:
            succs[edge.source].append(edge.target)
            preds[edge.target].append(edge.source)
    for node in g.nodes:
        if node.id not in boxes:
            boxes[node.id] = _place_new(node, m, boxes, preds[node.id], succs[node.id], pitch)
    _resolve_overlaps(
        boxes,
        [n.id for n in g.nodes if n.id in saved] + [n.id for n in g.nodes if n.id not in saved],
    )

    occupancy = Occupancy()
    routes: list[Route] = []
    dropped: list[str] = []
    for edge in g.edges:
        if edge.source not in boxes or edge.target not in boxes:
            dropped.append(edge.key)
        else:
            routes.append(_free_route(edge, boxes, m, occupancy))
    for comp_id, comp in ((n.id, n) for n in g.nodes if n.kind == "compensation"):
        task = comp.compensates
        if task in boxes and task != comp_id:
            points, _ = route_free(task, comp_id, boxes[task], boxes[comp_id], m.stub, occupancy)
            routes.append(Route(f"{task}~{comp_id}", task, comp_id, points, "link"))
    return _finish(g, boxes, routes, m, explicit=True, layers={}, dropped=dropped)


def _place_new(
    node: CanvasNode,
    m: Metrics,
    boxes: Mapping[str, Box],
    preds: list[str],
    succs: list[str],
    pitch: int,
) -> Box:
    """A first guess for a node without a position: under its inputs, above its outputs."""
    w = box_width(node.text, m)
    above = [boxes[p] for p in preds if p in boxes]
    below = [boxes[s] for s in succs if s in boxes]
    if above:
        centre = round(sum(b.cx for b in above) / len(above))
        return Box(max(0, centre - w // 2), max(b.bottom for b in above) + 1 + pitch, w, m.box_h)
    if below:
        centre = round(sum(b.cx for b in below) / len(below))
        return Box(
            max(0, centre - w // 2), max(0, min(b.y for b in below) - pitch - m.box_h), w, m.box_h
        )
    bottom = max((b.bottom for b in boxes.values()), default=-1)
    return Box(m.margin, bottom + 1 + pitch, w, m.box_h)


def _resolve_overlaps(boxes: dict[str, Box], order: list[str]) -> None:
    """Push boxes down (in ``order``, earlier ones stay) until no two come within a cell."""
    placed: list[Box] = []
    for node_id in order:
        box = boxes[node_id]
        moved = True
        while moved:
            moved = False
            for other in placed:
                if box.overlaps(other, margin=1):
                    box = Box(box.x, other.bottom + 2, box.w, box.h)
                    moved = True
        boxes[node_id] = box
        placed.append(box)


def _finish(
    g: CanvasGraph,
    boxes: dict[str, Box],
    routes: list[Route],
    m: Metrics,
    *,
    explicit: bool,
    layers: Mapping[str, int],
    dropped: list[str],
) -> Layout:
    right, bottom = 0, 0
    for box in boxes.values():
        right, bottom = max(right, box.right), max(bottom, box.bottom)
    for route in routes:
        for x, y in route.points:
            right, bottom = max(right, x), max(bottom, y)
        if route.label and route.label_at:
            right = max(right, route.label_at[0] + cell_len(route.label) - 1)
    ordered = {n.id: boxes[n.id] for n in g.nodes}
    return Layout(
        graph=g,
        boxes=MappingProxyType(ordered),
        routes=tuple(routes),
        width=right + 1 + m.margin,
        height=bottom + 1 + m.margin,
        zoom=m.zoom,
        explicit=explicit,
        layers=MappingProxyType(dict(layers)),
        dropped_edges=tuple(dropped),
    )
