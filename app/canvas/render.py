"""Draw a :class:`~app.canvas.model.Layout` into Textual ``Strip`` rows for a viewport.

A :class:`Scene` rasterises a layout's edges once (cells, arrowheads, labels, boxes
indexed by row); :func:`render_lines` then draws any viewport of it with the current
:class:`Decorations` (statuses, selection, validation marks) — only the visible cells
are touched, so the cost of a frame depends on the viewport, not on the graph.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from rich.cells import cell_len, get_character_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from app.canvas.glyphs import (
    BORDERS,
    DASHED_LINES,
    DIFF_COLOURS,
    DIFF_MARKS,
    DOWN,
    ERROR_MARK,
    HEAVY_LINES,
    LEFT,
    LINES,
    RIGHT,
    SOURCE_MARK,
    STATUS_COLOURS,
    STATUS_MARKS,
    UNKNOWN_STATUS_MARK,
    UP,
)
from app.canvas.model import Box, CanvasNode, Layout, Point
from app.kinds import kind_view
from app.text import clip, clip_middle

DiffKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class Decorations:
    """What changes between frames without changing the layout."""

    statuses: Mapping[str, str] = field(default_factory=dict)
    selected: str | None = None
    pending_source: str | None = None
    marked_nodes: frozenset[str] = frozenset()
    marked_edges: frozenset[str] = frozenset()
    diff: Mapping[str, DiffKind] = field(default_factory=dict)
    highlighted: frozenset[str] = frozenset()
    """Nodes drawn heavy in the highlight colour (a run's critical path)."""
    heat: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Node -> (border colour, label on its bottom border): the designer's duration overlay."""
    badges: Mapping[str, str] = field(default_factory=dict)
    """Node -> a label on its bottom border (a map's progress in the monitor)."""


class Palette(NamedTuple):
    """The styles of the canvas (colours suit a dark background)."""

    edge: Style = Style(color="#8a8f98")
    edge_selected: Style = Style(color="#7dcfff", bold=True)
    edge_marked: Style = Style(color="#ff5f5f", bold=True)
    link: Style = Style(color="#9ece6a", dim=True)
    label: Style = Style(color="#c0caf5", italic=True)
    text: Style = Style(color="#e0e0e0")
    text_selected: Style = Style(color="#ffffff", bold=True)
    border: Style = Style(color="#a0a8b8")
    border_selected: Style = Style(color="#7dcfff", bold=True)
    border_marked: Style = Style(color="#ff5f5f", bold=True)
    border_source: Style = Style(color="#ff79c6", bold=True)
    border_highlighted: Style = Style(color="#ff9e64", bold=True)
    compact_selected: Style = Style(reverse=True, bold=True)


DEFAULT_PALETTE = Palette()
_style_cache: dict[str, Style] = {}


def _colour(colour: str, bold: bool = False) -> Style:
    key = f"{colour}{bold}"
    if key not in _style_cache:
        _style_cache[key] = Style(color=colour, bold=bold)
    return _style_cache[key]


TEXT_CHROME = {1: 6, 2: 5, 3: 2}
"""Cells of a box that are not its text, per zoom (borders, glyph, status mark)."""


def distinct_texts(items: Mapping[str, tuple[str, int]]) -> dict[str, str]:
    """Each id's text cut to its width (``id -> (text, cells)``); texts that are cut
    to the same words although they differ are cut in the middle instead."""
    shown = {key: clip(text, width) for key, (text, width) in items.items()}
    groups: dict[str, set[str]] = {}
    for key, value in shown.items():
        groups.setdefault(value, set()).add(items[key][0])
    for key, (text, width) in items.items():
        if len(groups[shown[key]]) > 1:
            shown[key] = clip_middle(text, width)
    return shown


def fit(text: str, width: int) -> list[str]:
    """``text`` as exactly ``width`` cells: controls escaped, cut with ``…``, padded, wide
    chars + ``""``.  Reads about ``width`` characters however long ``text`` is."""
    clean = clip(text, width)
    cells: list[str] = []
    for ch in clean:
        size = get_character_cell_size(ch)
        if size == 0:
            continue
        if len(cells) + size > width:
            break
        cells.append(ch)
        if size == 2:
            cells.append("")
    cells.extend(" " * (width - len(cells)))
    return cells


class Scene:
    """A layout rasterised for fast viewport rendering; build once per layout."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        routes = layout.routes
        self.edge_keys = [r.edge_id for r in routes]
        self.edge_ends = [(r.source, r.target) for r in routes]
        self.dashed = [r.kind == "link" for r in routes]
        bits: dict[Point, int] = {}
        owners: dict[Point, list[int]] = {}
        arrows: dict[Point, tuple[str, int]] = {}
        self.labels: dict[int, list[tuple[int, str, int]]] = {}
        for index, route in enumerate(routes):
            cells = list(route.cells())
            for i, cell in enumerate(cells[:-1]):
                b = _toward(cell, cells[i + 1])
                if i > 0:
                    b |= _toward(cell, cells[i - 1])
                else:
                    b |= self._attach(cell, layout.boxes.get(route.source))
                bits[cell] = bits.get(cell, 0) | b
                owners.setdefault(cell, []).append(index)
            arrows[cells[-1]] = (route.arrow, index)
            if route.label and route.label_at:
                x, y = route.label_at
                self.labels.setdefault(y, []).append((x, route.label, index))
        # Per row: sorted columns, so a viewport slices its cells with bisect.
        self.rows: dict[int, tuple[list[int], list[tuple[int, tuple[int, ...]]]]] = {}
        for (x, y), b in sorted(bits.items(), key=lambda item: (item[0][1], item[0][0])):
            xs, cells_info = self.rows.setdefault(y, ([], []))
            xs.append(x)
            cells_info.append((b, tuple(owners[(x, y)])))
        self.arrows: dict[int, dict[int, tuple[str, int]]] = {}
        for (x, y), arrow in arrows.items():
            self.arrows.setdefault(y, {})[x] = arrow
        self.box_rows: dict[int, list[str]] = {}
        for node_id, box in layout.boxes.items():
            for y in range(box.y, box.bottom + 1):
                self.box_rows.setdefault(y, []).append(node_id)
        chrome = TEXT_CHROME[layout.zoom]
        self.texts = distinct_texts(
            {n: (layout.graph.by_id[n].text, box.w - chrome) for n, box in layout.boxes.items()}
        )
        """Each box's text as drawn: cut to its box, names that would look alike cut
        in the middle instead (``store…`` twice becomes ``sto…ary`` and ``sto…kup``)."""

    @staticmethod
    def _attach(cell: Point, box: Box | None) -> int:
        """The direction from a route's first cell back into its source box."""
        if box is None:
            return 0
        x, y = cell
        if y == box.bottom + 1 and box.x <= x <= box.right:
            return UP
        if y == box.y - 1 and box.x <= x <= box.right:
            return DOWN
        if x == box.right + 1:
            return LEFT
        if x == box.x - 1:
            return RIGHT
        return 0


def _toward(cell: Point, other: Point) -> int:
    dx, dy = other[0] - cell[0], other[1] - cell[1]
    if dy < 0:
        return UP
    if dy > 0:
        return DOWN
    return LEFT if dx < 0 else RIGHT


class Frame:
    """A scene with its decorations resolved: build once per change, draw many rows."""

    def __init__(self, scene: Scene, deco: Decorations, palette: Palette = DEFAULT_PALETTE) -> None:
        self.scene, self.deco, self.palette = scene, deco, palette
        self.marked = {i for i, k in enumerate(scene.edge_keys) if k in deco.marked_edges}
        sel = deco.selected
        self.touching = {i for i, (s, t) in enumerate(scene.edge_ends) if sel in (s, t)}

    def edge_style(self, owners: Iterable[int]) -> tuple[Style, bool]:
        """The style of an edge cell and whether it is drawn heavy (all owners marked)."""
        owners = tuple(owners)
        marked = [i in self.marked for i in owners]
        if any(marked):
            return self.palette.edge_marked, all(marked)
        if any(i in self.touching for i in owners):
            return self.palette.edge_selected, False
        if all(self.scene.dashed[i] for i in owners):
            return self.palette.link, False
        return self.palette.edge, False

    def line(self, y: int, x0: int, width: int) -> Strip:
        """Row ``y`` of the canvas, columns ``x0`` to ``x0 + width - 1``."""
        return _render_row(self, y, x0, width)


def render_lines(
    scene: Scene,
    deco: Decorations,
    x0: int,
    y0: int,
    width: int,
    height: int,
    palette: Palette = DEFAULT_PALETTE,
) -> list[Strip]:
    """The ``height`` rows from ``y0`` of the viewport starting at column ``x0``."""
    frame = Frame(scene, deco, palette)
    return [_render_row(frame, y, x0, width) for y in range(y0, y0 + height)]


def render_text(layout: Layout, deco: Decorations | None = None) -> list[str]:
    """The whole layout as plain text lines (for tests, logs and ``--plain`` output)."""
    scene = Scene(layout)
    strips = render_lines(scene, deco or Decorations(), 0, 0, layout.width, layout.height)
    return [strip.text.rstrip() for strip in strips]


def _render_row(frame: Frame, y: int, x0: int, width: int) -> Strip:
    scene, palette = frame.scene, frame.palette
    chars = [" "] * width
    styles: list[Style | None] = [None] * width
    x1 = x0 + width
    row = scene.rows.get(y)
    if row is not None:
        xs, info = row
        lo, hi = bisect.bisect_left(xs, x0), bisect.bisect_left(xs, x1)
        for x, (b, owners) in zip(xs[lo:hi], info[lo:hi], strict=True):
            style, heavy = frame.edge_style(owners)
            table = HEAVY_LINES if heavy else DASHED_LINES if style is palette.link else LINES
            chars[x - x0] = table[b]
            styles[x - x0] = style
    for x, text, index in scene.labels.get(y, ()):
        style = palette.edge_marked if index in frame.marked else palette.label
        for offset, ch in enumerate(fit(text, cell_len(text))):
            i = x + offset - x0
            if i >= width:
                break
            if i < 0:
                continue
            if chars[i] != " ":
                break  # never draw a label over a line: cut it short instead
            chars[i], styles[i] = ch, style
    for x, (arrow, index) in scene.arrows.get(y, {}).items():
        if x0 <= x < x1:
            style, _ = frame.edge_style((index,))
            chars[x - x0], styles[x - x0] = arrow, style
    for node_id in scene.box_rows.get(y, ()):
        box = scene.layout.boxes[node_id]
        if box.right < x0 or box.x >= x1:
            continue
        node = scene.layout.graph.by_id[node_id]
        cells = _box_row(frame, node, box, y - box.y, scene.layout.zoom, scene.texts[node_id])
        for offset, (ch, style) in enumerate(cells):
            i = box.x + offset - x0
            if 0 <= i < width:
                chars[i], styles[i] = ch, style
    segments: list[Segment] = []
    start = 0
    for i in range(1, width + 1):
        if i == width or styles[i] is not styles[start]:
            segments.append(Segment("".join(chars[start:i]), styles[start]))
            start = i
    return Strip(segments, width)


def _box_row(
    frame: Frame, node: CanvasNode, box: Box, r: int, zoom: int, text: str
) -> list[tuple[str, Style]]:
    """The cells of row ``r`` of a node's box, left to right (``text``: its words, cut)."""
    deco, palette = frame.deco, frame.palette
    status = deco.statuses.get(node.id)
    selected = deco.selected == node.id
    marked = node.id in deco.marked_nodes
    diff = deco.diff.get(node.id)
    mark = STATUS_MARKS.get(status, UNKNOWN_STATUS_MARK) if status else " "
    mark_style = _colour(STATUS_COLOURS.get(status or "", "#ffffff"), bold=True)
    view = kind_view(node.kind)
    glyph, glyph_style = view.glyph, _colour(view.colour)
    if marked:
        shape, border = "heavy", palette.border_marked
    elif selected:
        shape, border = "double", palette.border_selected
    elif deco.pending_source == node.id:
        shape, border = "double", palette.border_source
    elif node.id in deco.highlighted:
        shape, border = "heavy", palette.border_highlighted
    else:
        shape = view.border
        border = palette.border
        if diff:
            border = _colour(DIFF_COLOURS[diff])
        elif node.id in deco.heat:
            border = _colour(deco.heat[node.id][0], bold=True)
        elif status and status in STATUS_COLOURS:
            border = _colour(STATUS_COLOURS[status])
    text_style = palette.text_selected if selected else palette.text
    if zoom >= 2:
        # One-line boxes: selection shows as reverse video, errors replace the bracket.
        if selected:
            border = text_style = glyph_style = palette.compact_selected
        opening = ERROR_MARK if marked else SOURCE_MARK if deco.pending_source == node.id else "["
        if zoom == 3:
            cells = [(glyph, glyph_style)]
            cells += [(ch, text_style) for ch in fit(text, box.w - 2)]
            return [*cells, (mark, mark_style)]
        cells = [(opening, border), (glyph, glyph_style), (" ", text_style)]
        cells += [(ch, text_style) for ch in fit(text, box.w - 5)]
        return [*cells, (mark, mark_style), ("]", border)]
    tl, hz, tr, vt, bl, br = tuple(BORDERS[shape])
    if r == 0:
        top = [tl] + [hz] * (box.w - 2) + [tr]
        if diff and box.w > 4:
            top[1] = DIFF_MARKS[diff]
        elif deco.pending_source == node.id and box.w > 4:
            top[1] = SOURCE_MARK
        if marked and box.w > 4:
            top[-2] = ERROR_MARK
        return [(ch, border) for ch in top]
    if r == box.h - 1:
        bottom = [bl] + [hz] * (box.w - 2) + [br]
        label = deco.heat[node.id][1] if node.id in deco.heat else deco.badges.get(node.id, "")
        if len(label) + 2 > box.w:  # "p95 110ms" -> "110ms" in a narrow box
            label = label.rsplit(" ", 1)[-1]
        if label and len(label) + 2 <= box.w:
            bottom[1 : 1 + len(label)] = list(label)
        return [(ch, border) for ch in bottom]
    if r != box.h // 2:
        return [(vt, border)] + [(" ", text_style)] * (box.w - 2) + [(vt, border)]
    cells = [(vt, border), (glyph, glyph_style), (" ", text_style)]
    cells += [(ch, text_style) for ch in fit(text, box.w - 6)]
    return [*cells, (" ", text_style), (mark, mark_style), (vt, border)]
