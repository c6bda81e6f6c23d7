"""The characters and colours of the canvas, in one place (a node kind's own glyph,
colour and border are in :mod:`app.kinds`).

Every glyph is one cell wide and present in DejaVu Sans Mono (the usual fallback of
terminal fonts); ``tests/app/test_render.py`` checks both.  Each run status has a
colour *and* its own symbol, so the monitor reads the same without colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from app.kinds import KINDS, UNKNOWN_KIND
from orchestrator.vocab import NodeStatus

STATUSES: tuple[NodeStatus, ...] = tuple(NodeStatus)

STATUS_MARKS: Mapping[str, str] = MappingProxyType(
    {
        NodeStatus.PENDING: "○",
        NodeStatus.QUEUED: "◔",
        NodeStatus.RUNNING: "●",
        NodeStatus.WAITING: "…",
        NodeStatus.COMPLETED: "✓",
        NodeStatus.FAILED: "✗",
        NodeStatus.SKIPPED: "⊘",
        NodeStatus.COMPENSATING: "↻",
        NodeStatus.COMPENSATED: "↩",
        NodeStatus.CANCELLED: "⊖",
    }
)
UNKNOWN_STATUS_MARK = "?"

STATUS_COLOURS: Mapping[str, str] = MappingProxyType(
    {
        NodeStatus.PENDING: "#808080",
        NodeStatus.QUEUED: "#5fafff",
        NodeStatus.RUNNING: "#ffd75f",
        NodeStatus.WAITING: "#d7afff",
        NodeStatus.COMPLETED: "#5fd75f",
        NodeStatus.FAILED: "#ff5f5f",
        NodeStatus.SKIPPED: "#a8a8a8",
        NodeStatus.COMPENSATING: "#ffaf5f",
        NodeStatus.COMPENSATED: "#d7875f",
        NodeStatus.CANCELLED: "#d75f87",
    }
)

DIFF_MARKS: Mapping[str, str] = MappingProxyType(
    {"added": "+", "removed": "\N{MINUS SIGN}", "changed": "~"}
)
DIFF_COLOURS: Mapping[str, str] = MappingProxyType(
    {"added": "#5fd75f", "removed": "#ff5f5f", "changed": "#ffd75f"}
)

ERROR_MARK = "✗"
SOURCE_MARK = "●"
"""Marks the source node while the screen's connect mode waits for a target."""

ARROWS: tuple[str, ...] = ("▼", "▲", "▶", "◀", "↺")

# Edge cells are drawn from the directions they connect: up, down, left, right.
UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8


def _line_table(v: str, h: str, corners: str, tees: str, cross: str) -> tuple[str, ...]:
    """Characters indexed by a direction bit set (corners: ┌┐└┘; tees: ├┤┬┴)."""
    table = [" "] * 16
    table[UP] = table[DOWN] = table[UP | DOWN] = v
    table[LEFT] = table[RIGHT] = table[LEFT | RIGHT] = h
    table[DOWN | RIGHT], table[DOWN | LEFT], table[UP | RIGHT], table[UP | LEFT] = tuple(corners)
    (
        table[UP | DOWN | RIGHT],
        table[UP | DOWN | LEFT],
        table[DOWN | LEFT | RIGHT],
        table[UP | LEFT | RIGHT],
    ) = tuple(tees)
    table[UP | DOWN | LEFT | RIGHT] = cross
    return tuple(table)


LINES = _line_table("│", "─", "╭╮╰╯", "├┤┬┴", "┼")
HEAVY_LINES = _line_table("┃", "━", "┏┓┗┛", "┣┫┳┻", "╋")
DASHED_LINES = _line_table("╎", "╌", "╭╮╰╯", "├┤┬┴", "┼")

# Box borders: top-left, horizontal, top-right, vertical, bottom-left, bottom-right.
BORDERS: Mapping[str, str] = MappingProxyType(
    {
        "round": "╭─╮│╰╯",
        "rect": "┌─┐│└┘",
        "heavy": "┏━┓┃┗┛",
        "double": "╔═╗║╚╝",
        "dashed": "╭┄╮┆╰╯",
    }
)


def all_glyphs() -> str:
    """Every character the canvas may draw besides labels (for font checks)."""
    parts = [
        "".join(view.glyph for view in KINDS.values()) + UNKNOWN_KIND.glyph,
        "".join(STATUS_MARKS.values()),
        "".join(DIFF_MARKS.values()),
        ERROR_MARK,
        SOURCE_MARK,
        UNKNOWN_STATUS_MARK,
        "".join(ARROWS),
        "".join(LINES + HEAVY_LINES + DASHED_LINES).replace(" ", ""),
        "".join(BORDERS.values()),
        "[]…",
    ]
    return "".join(sorted(set("".join(parts))))
