"""Reading what the app drew: the rows the terminal receives, a widget's part of them,
the checks of the hostile-text tests (literal text, nothing a terminal would obey), and
the steps they share (reaching a screen, the Designer's fields)."""

from __future__ import annotations

from typing import Any, TypeVar

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from app.screens.designer import DesignerScreen
from app.text import escape_of, visible
from app.widgets.inspector import Inspector
from tests.tui.conftest import wait_for

S = TypeVar("S", bound=Screen[Any])

WRAPPED_PREFIX = 200
"""Of a value in a panel that wraps, the start read back from the screen (a long one
scrolls past the panel; tests check the widget's own text whole)."""


def screen_lines(app: App[Any]) -> list[str]:
    """Every row the active screen drew, as text (what the terminal receives)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def drawn(app: App[Any], widget: Widget) -> str:
    """What ``widget`` drew inside its borders, rows joined (so a wrapped value reads as
    one)."""
    region = widget.scrollable_content_region  # no scrollbar
    strips = app.screen._compositor.render_strips()[region.y : region.bottom]
    return "".join(strip.crop(region.x, region.right).text.rstrip() for strip in strips)


def head(value: str, cells: int = 40) -> str:
    """The start of how ``value`` shows on one line, in a place at least ``cells`` wide."""
    return visible(value)[:cells]


def wrapped(value: str) -> str:
    """The start of how ``value`` shows in a panel that wraps (line breaks kept, so they
    vanish when the rows are joined)."""
    return visible(value, multiline=True).replace("\n", "")[:WRAPPED_PREFIX]


def assert_display_safe(app: App[Any]) -> None:
    """The app runs, and no character that must be escaped reached the terminal."""
    assert app.is_running and app.return_code is None
    for row, line in enumerate(screen_lines(app)):
        raw = sorted({f"U+{ord(c):04X}" for c in line if escape_of(c) is not None})
        assert not raw, f"row {row} sends {raw} to the terminal: {line!r}"


def _missing(app: App[Any], widget: Widget, expected: tuple[str, ...]) -> list[str]:
    text = "".join(drawn(app, widget).split())
    return [value for value in expected if "".join(value.split()) not in text]


async def shows(pilot: Pilot[Any], widget: Widget, *expected: str) -> None:
    """Each of ``expected`` is in what ``widget`` drew (spaces aside: a row may wrap at one),
    waiting for the next frames until it is (a deadline, not a timed assertion)."""
    app = pilot.app
    try:
        await wait_for(pilot, lambda: not _missing(app, widget, expected), timeout_s=10)
    except AssertionError:
        missing = _missing(app, widget, expected)
        seen = drawn(app, widget)[:400]
        raise AssertionError(
            f"{missing[0][:80]!r} not drawn in {widget!r}; it drew {seen!r}"
        ) from None


async def on_screen(pilot: Pilot[Any], expected: str) -> None:
    """``expected`` is on one row of the screen (a title in a border), waiting for it."""

    def drawn_somewhere() -> bool:
        return any(expected in line for line in screen_lines(pilot.app))

    try:
        await wait_for(pilot, drawn_somewhere, timeout_s=10)
    except AssertionError:
        raise AssertionError(f"{expected[:80]!r} not drawn") from None


async def reach(pilot: Pilot[Any], key: str | None, kind: type[S]) -> S:
    """Press ``key`` (when given) and wait for a screen of ``kind``; that screen."""
    if key is not None:
        await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind), what=kind.__name__)
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


async def designer_fields(pilot: Pilot[Any], key: str | None) -> tuple[DesignerScreen, Inspector]:
    """The Designer (after ``key``) once its inspector shows the workflow's three fields."""
    designer = await reach(pilot, key, DesignerScreen)
    inspector = designer.query_one(Inspector)
    await wait_for(pilot, lambda: len(inspector.query(Input)) == 3, what="the workflow's fields")
    await pilot.pause()
    return designer, inspector
