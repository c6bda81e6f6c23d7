"""The Designer's canvas: the shared :class:`CanvasView` with its view keys kept out of
the footer, so the footer reads like the mockup (``F1 Help  F2 Validate  F5 Run  F10 Save``)
even at 80 columns.  The keys still work and are listed in the help and the palette.

It also fits the workflow to the view (``f``, and once when first drawn): the closest
zoom at which the whole graph is visible."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message

from app.canvas.layout import ZOOM_LEVELS, compute_layout
from app.canvas.model import Route
from app.widgets.canvas_view import CanvasView


def on_route(route: Route, x: int, y: int) -> bool:
    """Whether cell ``(x, y)`` is on the edge's drawn line or its label."""
    for (x1, y1), (x2, y2) in zip(route.points, route.points[1:], strict=False):
        if min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            return True
    if route.label and route.label_at is not None:
        lx, ly = route.label_at
        return y == ly and lx <= x < lx + cell_len(route.label)
    return False


class DesignCanvas(CanvasView):
    """:class:`CanvasView` whose zoom and re-layout keys are not shown in the footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus,equals_sign", "zoom_in", "Zoom in", show=False),
        Binding("minus", "zoom_out", "Zoom out", show=False),
        Binding("L", "relayout", "Re-layout", show=False),
        Binding("f", "fit", "Fit to view", show=False),
    ]

    @dataclass
    class EdgeClicked(Message):
        """The edge with this key (from ``source``) was clicked: the screen edits it."""

        key: str
        source: str

    def edge_at(self, x: int, y: int) -> Route | None:
        """The edge drawn at canvas cell ``(x, y)`` (not a compensation link), if any."""
        layout = self.layout_result
        if layout is None:
            return None
        return next((r for r in layout.routes if r.kind != "link" and on_route(r, x, y)), None)

    def on_click(self, event: events.Click) -> None:
        """A click on an edge (not on a node) posts :class:`EdgeClicked`."""
        point = self._canvas_offset(event)
        layout = self.layout_result
        if point is None or layout is None or layout.node_at(*point) is not None:
            return
        route = self.edge_at(*point)
        if route is not None:
            self.post_message(self.EdgeClicked(route.edge_id, route.source))

    def fit_zoom(self) -> int | None:
        """The closest zoom at which the whole graph fits the view (None: none does)."""
        graph = self._graph
        width, height = self.size
        if graph is None or not graph.nodes or width <= 0 or height <= 0:
            return None
        positions = self.positions()
        for zoom in sorted(ZOOM_LEVELS):
            layout = compute_layout(graph, zoom=zoom, positions=positions)
            if layout.width <= width and layout.height <= height:
                return zoom
        return None

    def action_fit(self) -> None:
        """Show the whole workflow: the closest zoom that fits, scrolled to its start."""
        zoom = self.fit_zoom()
        if zoom is None:
            self.notify("The workflow is larger than the view even at the overview zoom.")
            zoom = max(ZOOM_LEVELS)
        self.zoom = zoom
        self.scroll_to(0, 0, animate=False)
