"""Orthogonal edge routes between boxes placed anywhere (saved positions, side lanes).

The automatic layout routes its own edges through per-gap tracks; these helpers
cover what it cannot plan: boxes the user moved, links to side-lane compensation
nodes, self loops.  An :class:`Occupancy` remembers the horizontal runs already
taken so that unrelated edges do not share a row where another is free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.canvas.model import Box, Point


@dataclass(slots=True)
class Occupancy:
    """Horizontal runs and vertical lanes already used by routed edges."""

    rows: dict[int, list[tuple[int, int, str, str]]] = field(default_factory=dict)
    columns: dict[int, list[tuple[int, int, str, str]]] = field(default_factory=dict)

    @staticmethod
    def _free(runs: list[tuple[int, int, str, str]], lo: int, hi: int, src: str, dst: str) -> bool:
        return all(s == src or d == dst or lo > b + 1 or hi < a - 1 for a, b, s, d in runs)

    def row_free(self, row: int, lo: int, hi: int, src: str, dst: str) -> bool:
        """Whether a run ``lo..hi`` on ``row`` meets no other edge's run."""
        return self._free(self.rows.get(row, []), lo, hi, src, dst)

    def column_free(self, col: int, lo: int, hi: int, src: str, dst: str) -> bool:
        """Whether a vertical run ``lo..hi`` in ``col`` meets no other edge's run."""
        return self._free(self.columns.get(col, []), lo, hi, src, dst)

    def take_row(self, row: int, lo: int, hi: int, src: str, dst: str) -> None:
        """Record a horizontal run."""
        self.rows.setdefault(row, []).append((lo, hi, src, dst))

    def take_column(self, col: int, lo: int, hi: int, src: str, dst: str) -> None:
        """Record a vertical run."""
        self.columns.setdefault(col, []).append((lo, hi, src, dst))


def simplify(points: Sequence[Point]) -> tuple[Point, ...]:
    """Drop repeated points and the middle of straight runs."""
    out: list[Point] = []
    for point in points:
        if out and out[-1] == point:
            continue
        if len(out) >= 2:
            (x0, y0), (x1, y1) = out[-2], out[-1]
            if (x0 == x1 == point[0]) or (y0 == y1 == point[1]):
                out[-1] = point
                continue
        out.append(point)
    return tuple(out)


def self_loop(box: Box) -> tuple[Point, ...]:
    """A loop hugging the right side of ``box`` (a single mark on one-line boxes)."""
    if box.h < 3:
        return ((box.right + 1, box.y),)
    return simplify(
        [
            (box.right + 1, box.y),
            (box.right + 2, box.y),
            (box.right + 2, box.bottom),
            (box.right + 1, box.bottom),
        ]
    )


def route_free(
    src_id: str, dst_id: str, source: Box, target: Box, stub: int, occ: Occupancy
) -> tuple[tuple[Point, ...], Point]:
    """Route ``source -> target``; return the corner points and where a label goes.

    Downwards when the target lies at least two rows below (turning on the first
    free row), else sideways into the target's nearer side, else round a lane to the
    right of both boxes and into the target's right side.
    """
    px, qx = source.cx, target.cx
    first, last = source.bottom + 1, target.y - 1
    if last >= first and (px == qx or last >= first + 1):
        if px == qx:
            occ.take_column(px, first, last, src_id, dst_id)
            return simplify([(px, first), (px, last)]), (qx + 2, last - 1 if last > first else last)
        lo, hi = min(px, qx), max(px, qx)
        low_row = min(first + stub, last - 1)
        row = next(
            (r for r in range(low_row, last) if occ.row_free(r, lo, hi, src_id, dst_id)), last - 1
        )
        occ.take_row(row, lo, hi, src_id, dst_id)
        label_row = last - 1 if last - 1 > row else last
        return simplify([(px, first), (px, row), (qx, row), (qx, last)]), (qx + 2, label_row)
    sy, ty = source.cy, target.cy
    if target.x - 1 >= source.right + 2 or source.x - 1 >= target.right + 2:
        rightward = target.x > source.right
        start = source.right + 1 if rightward else source.x - 1
        end = target.x - 1 if rightward else target.right + 1
        lo, hi = min(start, end), max(start, end)
        mid = (start + end) // 2
        # Prefer a column no other vertical run uses, nearest the middle.
        for offset in range(hi - lo + 1):
            for col in (mid - offset, mid + offset):
                if lo <= col <= hi and occ.column_free(
                    col, min(sy, ty), max(sy, ty), src_id, dst_id
                ):
                    mid = col
                    break
            else:
                continue
            break
        occ.take_column(mid, min(sy, ty), max(sy, ty), src_id, dst_id)
        points = simplify([(start, sy), (mid, sy), (mid, ty), (end, ty)])
        return points, (min(mid, end) + 1, ty - 1)
    lane = max(source.right, target.right) + 2
    while not occ.column_free(lane, min(sy, ty), max(sy, ty), src_id, dst_id):
        lane += 1
    occ.take_column(lane, min(sy, ty), max(sy, ty), src_id, dst_id)
    points = simplify([(source.right + 1, sy), (lane, sy), (lane, ty), (target.right + 1, ty)])
    return points, (lane + 1, ty)
