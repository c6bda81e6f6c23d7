"""Keyboard geometry of the canvas: which node an arrow selects, how far a key moves.

Pure functions over the layout's boxes (zoom-1 or current cells), used by
:class:`app.widgets.canvas_view.CanvasView`'s key actions.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.canvas.model import Box

_DIRECTIONS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
MOVE_STEP = {"up": (0, -1), "down": (0, 1), "left": (-2, 0), "right": (2, 0)}
"""Shift+arrow: a selected node's step, in zoom-1 cells (columns are half as tall)."""
PAN_STEP = {"up": (0, -4), "down": (0, 4), "left": (-8, 0), "right": (8, 0)}
"""Ctrl+arrow: the view's scroll step, in cells."""


def nearest_in_direction(boxes: Mapping[str, Box], origin: str, direction: str) -> str | None:
    """The node a step in ``direction`` from ``origin`` should select.

    Up and down go to the nearest row of boxes in that direction (the next layer),
    choosing the box closest across; left and right stay in the same row when a box
    is there, else take the nearest by distance with rows counted double.  Ties go
    to the listed order.
    """
    dx, dy = _DIRECTIONS[direction]
    here = boxes[origin]
    ox, oy = here.x + here.w / 2, here.y + here.h / 2
    candidates: list[tuple[float, float, str]] = []
    for node_id, box in boxes.items():
        if node_id == origin:
            continue
        bx, by = box.x + box.w / 2 - ox, box.y + box.h / 2 - oy
        along = bx * dx + by * dy
        # A box a row lower is in the same row (moved by hand), not "below".
        if along >= (2 if dy else 1):
            candidates.append((along, abs(bx * dy) + abs(by * dx), node_id))
    if not candidates:
        return None
    if dy:
        band = min(c[0] for c in candidates) + 2
        return _first_nearest([(c[1], c[2]) for c in candidates if c[0] <= band])
    same_row = [(c[0], c[2]) for c in candidates if c[1] <= 2]
    if same_row:
        return _first_nearest(same_row)
    return _first_nearest([(c[0] + 2 * c[1], c[2]) for c in candidates])


def _first_nearest(scored: list[tuple[float, str]]) -> str:
    """The first listed of those within a cell of the best score (centres fall on half cells)."""
    best = min(score for score, _ in scored)
    return next(node_id for score, node_id in scored if score <= best + 1)
