"""The DAG canvas: a scrollable, zoomable drawing of a workflow graph.

``CanvasView`` draws with the Line API (only the visible rows are rendered, so a
500-node graph scrolls as fast as a 5-node one), lets the user select nodes with
the arrows or hjkl, move them with shift+arrows or by dragging, zoom with ``+``/``-``,
pan with ctrl+arrows or the scroll wheel, and re-lay them out with ``L``.  It never
reaches into the App: it posts messages (``NodeSelected``, ``NodeMoved``,
``NodeActivated``, ``Arranged``) and the screen decides what they mean.

Positions are kept in zoom-1 cells, the unit saved with the spec; nodes move only at
zoom 1 (the compact zooms are read-only views of the same arrangement).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from app.canvas.layout import ZOOM_LEVELS, compute_layout
from app.canvas.model import Box, CanvasGraph, Layout, as_canvas_graph
from app.canvas.navigate import MOVE_STEP, PAN_STEP, nearest_in_direction
from app.canvas.render import Decorations, DiffKind, Frame, Scene
from orchestrator.errors import NotFound


class CanvasView(ScrollView, can_focus=True):
    """A workflow graph drawn as boxes and arrows, with keyboard and mouse editing."""

    DEFAULT_CSS = """
    CanvasView {
        background: $surface;
        scrollbar-size: 1 1;
    }
    CanvasView:focus {
        background-tint: $foreground 3%;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "nav('up')", "Up", show=False),
        Binding("down,j", "nav('down')", "Down", show=False),
        Binding("left,h", "nav('left')", "Left", show=False),
        Binding("right,l", "nav('right')", "Right", show=False),
        Binding("shift+up", "move('up')", "Move up", show=False),
        Binding("shift+down", "move('down')", "Move down", show=False),
        Binding("shift+left", "move('left')", "Move left", show=False),
        Binding("shift+right", "move('right')", "Move right", show=False),
        Binding("ctrl+up", "pan('up')", "Pan up", show=False),
        Binding("ctrl+down", "pan('down')", "Pan down", show=False),
        Binding("ctrl+left", "pan('left')", "Pan left", show=False),
        Binding("ctrl+right", "pan('right')", "Pan right", show=False),
        Binding("plus,equals_sign", "zoom_in", "Zoom in"),
        Binding("minus", "zoom_out", "Zoom out"),
        Binding("L", "relayout", "Re-layout"),
        Binding("enter", "activate", "Open", show=False),
    ]

    @dataclass
    class NodeSelected(Message):
        """The selection changed; ``node_id`` is None when nothing is selected."""

        canvas: CanvasView
        node_id: str | None

        @property
        def control(self) -> CanvasView:
            """The canvas that sent the message."""
            return self.canvas

    @dataclass
    class NodeMoved(Message):
        """The user moved a node; ``x``, ``y`` is its new top-left in zoom-1 cells."""

        canvas: CanvasView
        node_id: str
        x: int
        y: int

        @property
        def control(self) -> CanvasView:
            """The canvas that sent the message."""
            return self.canvas

    @dataclass
    class NodeActivated(Message):
        """Enter or a double click on a node (open its properties, for instance)."""

        canvas: CanvasView
        node_id: str

        @property
        def control(self) -> CanvasView:
            """The canvas that sent the message."""
            return self.canvas

    @dataclass
    class Arranged(Message):
        """A re-layout replaced every position; ``positions`` are the new ones (zoom 1)."""

        canvas: CanvasView
        positions: dict[str, tuple[int, int]]

        @property
        def control(self) -> CanvasView:
            """The canvas that sent the message."""
            return self.canvas

    zoom: reactive[int] = reactive(1)
    """1: full boxes, 2: one-line boxes, 3: overview."""
    pending_source: reactive[str | None] = reactive(None)
    """The source node of a connection being made (the screen's connect mode)."""

    def __init__(
        self,
        graph: Any = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Create the canvas, optionally drawing ``graph`` (see :meth:`set_graph`)."""
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._graph: CanvasGraph | None = None
        self._positions: dict[str, tuple[int, int]] = {}
        self._layout: Layout | None = None
        self._frame: Frame | None = None
        self._unit_layout: Layout | None = None
        self._selected: str | None = None
        self._statuses: dict[str, str] = {}
        self._badges: dict[str, str] = {}
        self._marked_nodes: frozenset[str] = frozenset()
        self._marked_edges: frozenset[str] = frozenset()
        self._diff: dict[str, DiffKind] = {}
        self._highlighted: frozenset[str] = frozenset()
        self._heat: dict[str, tuple[str, str]] = {}
        self._drag: tuple[str, int, int] | None = None
        self._dragged = False
        self._frozen_pad: int | None = None
        if graph is not None:
            self.set_graph(graph)

    # -- public API ------------------------------------------------------------------

    @property
    def layout_result(self) -> Layout | None:
        """The current layout (boxes and routes at the current zoom), if any."""
        return self._layout

    @property
    def selected(self) -> str | None:
        """The selected node's id."""
        return self._selected

    def set_graph(self, graph: Any, *, relayout: bool = False) -> None:
        """Draw ``graph``: a ``WorkflowSpec``, ``CanvasGraph`` or ``(nodes, edges)``.

        Positions saved in ``graph`` win; nodes without one keep the position this
        canvas gave them, else are placed automatically.  ``relayout`` drops every
        position.  Raises ``BadRequest`` for input the canvas cannot draw.
        """
        g = as_canvas_graph(graph)
        if relayout:
            positions: dict[str, tuple[int, int]] = {}
        else:
            positions = {n.id: n.position for n in g.nodes if n.position is not None}
            for node in g.nodes:
                if node.id not in positions and node.id in self._positions:
                    positions[node.id] = self._positions[node.id]
        self._graph = g
        self._positions = positions
        if self._selected not in g.by_id:
            self._selected = None
        if self.pending_source not in g.by_id:
            self.pending_source = None
        self._rebuild()

    def relayout(self) -> None:
        """Forget every position and lay the graph out automatically; posts ``Arranged``."""
        if self._graph is None:
            return
        self._positions = {}
        self._rebuild()
        self.post_message(self.Arranged(self, self.positions()))

    def positions(self) -> dict[str, tuple[int, int]]:
        """Every node's top-left corner in zoom-1 cells, as drawn (what the spec saves)."""
        layout = self._zoom1_layout()
        if layout is None:
            return {}
        return {node_id: (box.x, box.y) for node_id, box in layout.boxes.items()}

    def set_statuses(self, statuses: Mapping[str, str]) -> None:
        """Show run statuses (``pending`` ... ``cancelled``); unknown ones show ``?``."""
        self._statuses = dict(statuses)
        self._redecorate()

    def set_marks(self, node_ids: Iterable[str] = (), edge_ids: Iterable[str] = ()) -> None:
        """Mark the nodes and edges the validator flagged (red, heavy, ``✗``)."""
        self._marked_nodes = frozenset(node_ids)
        self._marked_edges = frozenset(edge_ids)
        self._redecorate()

    def set_diff(self, diff: Mapping[str, DiffKind]) -> None:
        """Highlight nodes ``added``, ``removed`` or ``changed`` between two versions."""
        self._diff = dict(diff)
        self._redecorate()

    def set_highlight(self, node_ids: Iterable[str] = ()) -> None:
        """Draw these nodes heavy in the highlight colour (a run's critical path)."""
        self._highlighted = frozenset(node_ids)
        self._redecorate()

    def set_heat(self, heat: Mapping[str, tuple[str, str]]) -> None:
        """Colour nodes' borders and label them (node -> (colour, label)); {} clears."""
        self._heat = dict(heat)
        self._redecorate()

    def set_badges(self, badges: Mapping[str, str]) -> None:
        """Labels on nodes' bottom borders (a map's progress); {} clears them."""
        if dict(badges) != self._badges:
            self._badges = dict(badges)
            self._redecorate()

    def select(self, node_id: str | None, *, scroll: bool = True) -> None:
        """Select ``node_id`` (None clears); posts ``NodeSelected`` when it changes."""
        if node_id is not None and (self._graph is None or node_id not in self._graph.by_id):
            raise NotFound(f"no node '{node_id}' on the canvas", node_id=node_id)
        if scroll and node_id is not None:
            self.scroll_to_node(node_id)
        if node_id == self._selected:
            return
        self._selected = node_id
        self._redecorate()
        self.post_message(self.NodeSelected(self, node_id))

    def scroll_to_node(self, node_id: str) -> None:
        """Scroll the least needed to show ``node_id``'s box."""
        box = self._box(node_id)
        if box is not None:
            self.scroll_to_region(Region(box.x, box.y, box.w, box.h), animate=False, immediate=True)

    def node_at(self, x: int, y: int) -> str | None:
        """The node under widget-relative cell ``(x, y)`` (scrolling accounted for)."""
        if self._layout is None:
            return None
        return self._layout.node_at(
            x + round(self.scroll_x) - self._pad_x(), y + round(self.scroll_y)
        )

    # -- layout and drawing ------------------------------------------------------------

    def _zoom1_layout(self) -> Layout | None:
        if self._graph is None:
            return None
        if self._layout is not None and self._layout.zoom == 1:
            return self._layout
        if self._unit_layout is None:
            self._unit_layout = compute_layout(self._graph, zoom=1, positions=self._positions)
        return self._unit_layout

    def _rebuild(self) -> None:
        self._unit_layout = None
        if self._graph is None:
            self._layout, self._frame = None, None
            self.virtual_size = Size(0, 0)
        else:
            self._layout = compute_layout(self._graph, zoom=self.zoom, positions=self._positions)
            self.virtual_size = Size(self._layout.width, self._layout.height)
        self._redecorate()

    def _redecorate(self) -> None:
        if self._layout is not None:
            deco = Decorations(
                statuses=self._statuses,
                selected=self._selected,
                pending_source=self.pending_source,
                marked_nodes=self._marked_nodes,
                marked_edges=self._marked_edges,
                diff=self._diff,
                highlighted=self._highlighted,
                heat=self._heat,
                badges=self._badges,
            )
            scene = (
                self._frame.scene
                if self._frame and self._frame.scene.layout is self._layout
                else None
            )
            self._frame = Frame(scene or Scene(self._layout), deco)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Draw visible row ``y``: only this row's cells of the canvas are computed."""
        width = self.size.width
        if self._frame is None:
            return Strip.blank(width, self.rich_style)
        scroll_x, scroll_y = self.scroll_offset
        line = self._frame.line(y + scroll_y, scroll_x - self._pad_x(), width)
        return line.apply_style(self.rich_style)

    def _pad_x(self) -> int:
        """Columns left blank to centre a graph narrower than the view."""
        if self._frozen_pad is not None:
            return self._frozen_pad  # the graph must not slide under a dragging pointer
        if self._layout is None:
            return 0
        return max(0, (self.size.width - self._layout.width) // 2)

    def validate_zoom(self, zoom: int) -> int:
        """Keep the zoom within the levels the layout knows."""
        return max(min(ZOOM_LEVELS), min(max(ZOOM_LEVELS), zoom))

    def watch_zoom(self) -> None:
        """Re-lay out at the new zoom and keep the selection in view."""
        self._rebuild()
        if self._selected is not None:
            self.call_after_refresh(self.scroll_to_node, self._selected)

    def watch_pending_source(self) -> None:
        """Redraw the connect-mode highlight."""
        self._redecorate()

    def _box(self, node_id: str) -> Box | None:
        return self._layout.boxes.get(node_id) if self._layout else None

    # -- moving nodes ------------------------------------------------------------------

    def move_node(self, node_id: str, x: int, y: int) -> bool:
        """Put ``node_id``'s top-left at zoom-1 cell ``(x, y)``; False if it would overlap.

        The first move turns the automatic layout into explicit positions, so nothing
        else jumps.  Does not post ``NodeMoved`` (user moves do).
        """
        if self._graph is None or node_id not in self._graph.by_id:
            raise NotFound(f"no node '{node_id}' on the canvas", node_id=node_id)
        current = self.positions()
        boxes = self._zoom1_layout()
        if boxes is None or x < 0 or y < 0:
            return False
        own = boxes.boxes[node_id]
        moved = Box(x, y, own.w, own.h)
        if any(moved.overlaps(b, margin=1) for k, b in boxes.boxes.items() if k != node_id):
            return False
        current[node_id] = (x, y)
        self._positions = current
        self._rebuild()
        return True

    def action_move(self, direction: str) -> None:
        """Move the selected node one step, hopping over any node in the way."""
        if self._selected is None or self.zoom != 1:
            return
        dx, dy = MOVE_STEP[direction]
        x, y = self.positions()[self._selected]
        for step in range(1, 200):
            nx, ny = x + dx * step, y + dy * step
            if nx < 0 or ny < 0:
                return
            if self.move_node(self._selected, nx, ny):
                self.scroll_to_node(self._selected)
                self.post_message(self.NodeMoved(self, self._selected, nx, ny))
                return

    # -- keyboard ----------------------------------------------------------------------

    def action_nav(self, direction: str) -> None:
        """Select the nearest node in ``direction`` (or a first node)."""
        if self._layout is None or not self._layout.boxes:
            return
        if self._selected is None:
            self.select(next(iter(self._layout.boxes)))
            return
        target = nearest_in_direction(self._layout.boxes, self._selected, direction)
        if target is not None:
            self.select(target)

    def action_pan(self, direction: str) -> None:
        """Scroll the view without changing the selection."""
        dx, dy = PAN_STEP[direction]
        self.scroll_to(self.scroll_x + dx, self.scroll_y + dy, animate=False)

    def action_zoom_in(self) -> None:
        """Bigger boxes (zoom level 1 is the most detailed)."""
        self.zoom -= 1

    def action_zoom_out(self) -> None:
        """Smaller boxes, more of the graph on screen."""
        self.zoom += 1

    def action_relayout(self) -> None:
        """Lay the graph out again automatically."""
        self.relayout()

    def action_activate(self) -> None:
        """Tell the screen the selected node was opened."""
        if self._selected is not None:
            self.post_message(self.NodeActivated(self, self._selected))

    # -- mouse -------------------------------------------------------------------------

    def _canvas_offset(
        self, event: events.MouseEvent, captured: bool = False
    ) -> tuple[int, int] | None:
        offset = (
            event.get_content_offset_capture(self) if captured else event.get_content_offset(self)
        )
        if offset is None:
            return None
        return offset.x + round(self.scroll_x) - self._pad_x(), offset.y + round(self.scroll_y)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """Select the node under the pointer and start dragging it."""
        point = self._canvas_offset(event)
        if point is None or event.button != 1 or self._layout is None:
            return
        self.focus()
        node_id = self._layout.node_at(*point)
        self.select(node_id, scroll=False)
        if node_id is not None and self.zoom == 1:
            box = self._layout.boxes[node_id]
            self._drag, self._dragged = (node_id, point[0] - box.x, point[1] - box.y), False
            self._frozen_pad = self._pad_x()
            self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Follow the pointer with the dragged node (where it does not overlap)."""
        if self._drag is None:
            return
        point = self._canvas_offset(event, captured=True)
        if point is None:
            return
        node_id, grab_x, grab_y = self._drag
        x, y = max(0, point[0] - grab_x), max(0, point[1] - grab_y)
        box = self._box(node_id)
        if box is not None and (x, y) != (box.x, box.y) and self.move_node(node_id, x, y):
            self._dragged = True

    def on_mouse_up(self, event: events.MouseUp) -> None:
        """Drop the dragged node; posts ``NodeMoved`` if it moved."""
        if self._drag is None:
            return
        node_id = self._drag[0]
        self._drag, self._frozen_pad = None, None
        self.release_mouse()
        self.refresh()
        if self._dragged:
            x, y = self.positions()[node_id]
            self.post_message(self.NodeMoved(self, node_id, x, y))

    def on_click(self, event: events.Click) -> None:
        """A double click opens the node."""
        if event.chain >= 2 and self._selected is not None:
            self.post_message(self.NodeActivated(self, self._selected))
