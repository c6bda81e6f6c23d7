"""The Designer's canvas: the shared :class:`CanvasView` with its view keys kept out of
the footer, so the footer reads like the mockup (``F1 Help  F2 Validate  F5 Run  F10 Save``)
even at 80 columns.  The keys still work and are listed in the help and the palette.

It also fits the workflow to the view (``f``, and once when first drawn): the closest
zoom at which the whole graph is visible."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from app.canvas.layout import ZOOM_LEVELS, compute_layout
from app.widgets.canvas_view import CanvasView


class DesignCanvas(CanvasView):
    """:class:`CanvasView` whose zoom and re-layout keys are not shown in the footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus,equals_sign", "zoom_in", "Zoom in", show=False),
        Binding("minus", "zoom_out", "Zoom out", show=False),
        Binding("L", "relayout", "Re-layout", show=False),
        Binding("f", "fit", "Fit to view", show=False),
    ]

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
