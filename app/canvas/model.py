"""The canvas's own view of a workflow graph, and the geometry a layout produces.

The canvas does not draw a :class:`~orchestrator.spec.model.WorkflowSpec` directly:
the designer may hold a graph the validator rejects (dangling edges, cycles,
duplicate ids), so everything is first reduced to :class:`CanvasGraph` — plain
nodes and edges — with :func:`as_canvas_graph`.  Coordinates are character cells,
``x`` to the right and ``y`` down, origin at the canvas's top-left corner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from orchestrator.errors import BadRequest
from orchestrator.spec.model import NODE_TYPES, Edge, WorkflowSpec

RouteKind = Literal["flow", "back", "self", "link"]
"""How an edge is drawn: ``flow`` downwards, ``back`` (an edge that closes a cycle,
drawn upwards), ``self`` (a node to itself), ``link`` (task -> its compensation node)."""


@dataclass(frozen=True, slots=True)
class CanvasNode:
    """A node as the canvas sees it.

    ``position`` is the saved top-left corner in cells at zoom 1; ``compensates`` names
    the task this (compensation) node undoes, which puts it in the task's side lane.
    """

    id: str
    label: str = ""
    kind: str = "task"
    position: tuple[int, int] | None = None
    compensates: str | None = None

    @property
    def text(self) -> str:
        """The text drawn in the box: the label, else the id."""
        return self.label or self.id


@dataclass(frozen=True, slots=True)
class CanvasEdge:
    """An edge ``source -> target``; ``label`` is drawn next to its arrowhead."""

    source: str
    target: str
    id: str = ""
    label: str | None = None

    @property
    def key(self) -> str:
        """The edge's id, or ``source->target`` when it has none."""
        return self.id or f"{self.source}->{self.target}"


@dataclass(frozen=True, slots=True)
class CanvasGraph:
    """Nodes (unique ids, listed order kept) and the edges between them."""

    nodes: tuple[CanvasNode, ...]
    edges: tuple[CanvasEdge, ...]
    by_id: Mapping[str, CanvasNode] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.by_id:
            object.__setattr__(self, "by_id", MappingProxyType({n.id: n for n in self.nodes}))


def edge_label(edge: Edge) -> str | None:
    """The text drawn on an edge: its label, else its condition, else ``default``."""
    if edge.label:
        return edge.label
    if edge.condition is True:
        return "true"
    if edge.condition is False:
        return "false"
    if isinstance(edge.condition, str):
        return edge.condition
    return "default" if edge.default else None


def graph_from_spec(spec: WorkflowSpec) -> CanvasGraph:
    """The canvas graph of a spec: every node, its flow edges, compensation lanes.

    A spec that lists no edges gets the implicit chain the engine runs
    (:meth:`WorkflowSpec.flow_edges`), so a saga written as a list still draws as one.
    """
    kinds = {n.id: n.type for n in spec.nodes}
    compensates: dict[str, str] = {}
    for node in spec.nodes:
        if (
            node.type == "task"
            and node.compensation
            and kinds.get(node.compensation) == "compensation"
        ):
            compensates.setdefault(node.compensation, node.id)
    for node in spec.nodes:
        if node.type == "compensation" and node.compensates and node.compensates in kinds:
            compensates.setdefault(node.id, node.compensates)
    nodes = [
        CanvasNode(
            id=n.id,
            label=n.label,
            kind=n.type,
            position=(round(n.position.x), round(n.position.y)) if n.position else None,
            compensates=compensates.get(n.id),
        )
        for n in spec.nodes
    ]
    edges = [
        CanvasEdge(source=e.source, target=e.target, id=e.id or "", label=edge_label(e))
        for e in spec.flow_edges()
    ]
    return _build(nodes, edges)


def as_canvas_graph(graph: Any) -> CanvasGraph:
    """Accept what callers hold and return a :class:`CanvasGraph`.

    ``graph`` is a ``WorkflowSpec``, a ``CanvasGraph``, or a pair ``(nodes, edges)``
    where a node is a ``CanvasNode`` or an id string and an edge a ``CanvasEdge`` or
    a ``(source, target)`` pair.  Duplicate node ids keep the first node (the
    validator reports the rest).  Anything else raises :class:`BadRequest`.
    """
    if isinstance(graph, CanvasGraph):
        return graph
    if isinstance(graph, WorkflowSpec):
        return graph_from_spec(graph)
    if isinstance(graph, tuple) and len(graph) == 2:
        nodes_in, edges_in = graph
        return _build(_coerce_nodes(nodes_in), _coerce_edges(edges_in))
    raise BadRequest(
        f"the canvas draws a WorkflowSpec or a (nodes, edges) pair, not {type(graph).__name__}",
        code="CANVAS_INPUT",
    )


def _coerce_nodes(items: Any) -> list[CanvasNode]:
    if not isinstance(items, Iterable) or isinstance(items, str | bytes):
        raise BadRequest("canvas nodes must be a list", code="CANVAS_INPUT")
    out: list[CanvasNode] = []
    for item in items:
        if isinstance(item, CanvasNode):
            out.append(item)
        elif isinstance(item, str) and item:
            out.append(CanvasNode(id=item))
        else:
            raise BadRequest(
                f"a canvas node must be a CanvasNode or an id string, not {item!r}",
                code="CANVAS_INPUT",
            )
    return out


def _coerce_edges(items: Any) -> list[CanvasEdge]:
    if not isinstance(items, Iterable) or isinstance(items, str | bytes):
        raise BadRequest("canvas edges must be a list", code="CANVAS_INPUT")
    out: list[CanvasEdge] = []
    for item in items:
        if isinstance(item, CanvasEdge):
            out.append(item)
        elif (
            isinstance(item, tuple | list)
            and len(item) == 2
            and all(isinstance(end, str) and end for end in item)
        ):
            out.append(CanvasEdge(source=item[0], target=item[1]))
        else:
            raise BadRequest(
                f"a canvas edge must be a CanvasEdge or a (source, target) pair, not {item!r}",
                code="CANVAS_INPUT",
            )
    return out


def _build(nodes: Sequence[CanvasNode], edges: Sequence[CanvasEdge]) -> CanvasGraph:
    unique: dict[str, CanvasNode] = {}
    for node in nodes:
        if node.kind not in NODE_TYPES:
            raise BadRequest(
                f"node '{node.id}' has unknown type '{node.kind}'",
                code="CANVAS_INPUT",
                node_id=node.id,
            )
        unique.setdefault(node.id, node)
    # Edge keys must be unique: the renderer marks edges by key.
    seen: set[str] = set()
    keyed: list[CanvasEdge] = []
    for edge in edges:
        key, n = edge.key, 2
        while key in seen:
            key, n = f"{edge.key}#{n}", n + 1
        seen.add(key)
        keyed.append(
            edge if key == edge.id else CanvasEdge(edge.source, edge.target, key, edge.label)
        )
    return CanvasGraph(nodes=tuple(unique.values()), edges=tuple(keyed))


@dataclass(frozen=True, slots=True)
class Box:
    """A node's rectangle in cells: top-left ``(x, y)``, width ``w``, height ``h``."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        """The last column inside the box."""
        return self.x + self.w - 1

    @property
    def bottom(self) -> int:
        """The last row inside the box."""
        return self.y + self.h - 1

    @property
    def cx(self) -> int:
        """The column where vertical edges attach."""
        return self.x + self.w // 2

    @property
    def cy(self) -> int:
        """The row where horizontal edges attach."""
        return self.y + self.h // 2

    def contains(self, x: int, y: int) -> bool:
        """Whether cell ``(x, y)`` lies inside the box."""
        return self.x <= x <= self.right and self.y <= y <= self.bottom

    def overlaps(self, other: Box, margin: int = 0) -> bool:
        """Whether the boxes share a cell (or come closer than ``margin`` cells)."""
        return not (
            other.x > self.right + margin
            or self.x > other.right + margin
            or other.y > self.bottom + margin
            or self.y > other.bottom + margin
        )


Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Route:
    """How one edge is drawn.

    ``points`` are the corners of an orthogonal polyline (consecutive points share x
    or y); the first lies just outside the source box, the last is the arrowhead's
    cell just outside the target box.  ``label_at`` is where the label starts.
    """

    edge_id: str
    source: str
    target: str
    points: tuple[Point, ...]
    kind: RouteKind = "flow"
    label: str | None = None
    label_at: Point | None = None

    def cells(self) -> Iterator[Point]:
        """Every cell the route passes through, in order, each once."""
        prev: Point | None = None
        for point in self.points:
            if prev is None:
                yield point
            else:
                (x0, y0), (x1, y1) = prev, point
                dx = (x1 > x0) - (x1 < x0)
                dy = (y1 > y0) - (y1 < y0)
                x, y = x0, y0
                while (x, y) != (x1, y1):
                    x, y = x + dx, y + dy
                    yield x, y
            prev = point

    @property
    def arrow(self) -> str:
        """The arrowhead glyph, pointing along the last segment."""
        if len(self.points) < 2:
            return {"self": "↺", "link": "▶"}.get(self.kind, "▼")
        (x0, y0), (x1, y1) = self.points[-2], self.points[-1]
        if y1 > y0:
            return "▼"
        if y1 < y0:
            return "▲"
        return "▶" if x1 > x0 else "◀"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every node and edge of a graph goes, at one zoom level."""

    graph: CanvasGraph
    boxes: Mapping[str, Box]
    routes: tuple[Route, ...]
    width: int
    height: int
    zoom: int = 1
    explicit: bool = False
    """True when the boxes come from saved positions rather than the automatic layout."""
    layers: Mapping[str, int] = field(default_factory=dict)
    """The automatic layout's layer (row) of each node; side-lane nodes share their task's."""
    dropped_edges: tuple[str, ...] = ()
    """Keys of edges not drawn because an end is not a node of the graph."""

    def node_at(self, x: int, y: int) -> str | None:
        """The id of the node whose box holds cell ``(x, y)``, if any (last drawn wins)."""
        found: str | None = None
        for node_id, box in self.boxes.items():
            if box.contains(x, y):
                found = node_id
        return found
