"""The Designer's canvas: the shared :class:`CanvasView` with its view keys kept out of
the footer, so the footer reads like the mockup (``F1 Help  F2 Validate  F5 Run  F10 Save``)
even at 80 columns.  The keys still work and are listed in the help and the palette."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from app.widgets.canvas_view import CanvasView


class DesignCanvas(CanvasView):
    """:class:`CanvasView` whose zoom and re-layout keys are not shown in the footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus,equals_sign", "zoom_in", "Zoom in", show=False),
        Binding("minus", "zoom_out", "Zoom out", show=False),
        Binding("L", "relayout", "Re-layout", show=False),
    ]
