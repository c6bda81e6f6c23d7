"""Untrusted text made safe to show (``app/text.py``): escapes, cutting, never markup."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from app.text import (
    ELLIPSIS,
    ESCAPE_STYLE,
    MAX_DETAIL_CHARS,
    brief,
    clip,
    escape_of,
    safe,
    visible,
    width_of,
)
from app.widgets.ops_format import json_text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("[/]", "[/]"),
        ("[@click=app.quit]Payroll[/]", "[@click=app.quit]Payroll[/]"),
        ("\\[b]", "\\[b]"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("a\x00b\x08c\x7fd", "a\\x00b\\x08c\\x7fd"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI: some terminals obey it like ESC [
        ("one\ntwo\r\tx", "one\\ntwo\\r\\tx"),
        ("\u202eexe.txt", "\\u202eexe.txt"),
        ("\u200e\u200f\u2066\u2069\u061c", "\\u200e\\u200f\\u2066\\u2069\\u061c"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("\ud800", "\\ud800"),
        ("tag\U000e0041", "tag\\U000e0041"),
        # What people write stays as it is: accents, CJK, emoji with joiners, combining marks.
        ("Zoë 処理 👨\u200d👩\u200d👧 e\u0301", "Zoë 処理 👨\u200d👩\u200d👧 e\u0301"),
    ],
)
def test_visible_escapes_what_a_terminal_would_obey(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_multiline_keeps_line_breaks_and_expands_tabs() -> None:
    assert visible("a\r\nb\tc\rd\n", multiline=True) == "a\nb    c\\rd\n"
    assert visible(None) == "" and visible(42) == "42"


def test_clip_cuts_to_cells_with_an_ellipsis() -> None:
    assert clip("abcdef", 6) == "abcdef"
    assert clip("abcdefg", 6) == "abcde…"
    assert clip("処理データ", 5) == "処理…"  # a wide character never half-drawn
    assert clip("a\x1b", 5) == "a\\x1b"
    assert clip("a\x1bb", 5) == "a…"  # an escape is never cut in two
    assert clip("x" * 10_000, 3) == "xx…"
    assert clip("abc", 0) == "" and clip("abc", 1) == ELLIPSIS
    assert width_of("x" * 10_000, 24) == 25 and width_of("a\x1b", 24) == 5


def test_safe_is_text_with_escapes_set_apart() -> None:
    text = safe("[b]x\x1b[0m", style="bold")
    assert isinstance(text, Text)
    assert text.plain == "[b]x\\x1b[0m" and str(text.style) == "bold"
    escapes = [text.plain[s.start : s.end] for s in text.spans if s.style == ESCAPE_STYLE]
    assert escapes == ["\\x1b"]
    assert safe("a\nb", width=10).plain == "a\\nb"
    assert safe("a\nb", multiline=True).plain == "a\nb"
    assert safe("x" * 100, width=10).plain == "x" * 9 + ELLIPSIS


def test_details_show_a_long_value_whole_up_to_a_cap() -> None:
    assert safe("y" * 10_000, multiline=True).plain == "y" * 10_000
    capped = safe("z" * (MAX_DETAIL_CHARS + 5)).plain
    assert capped.startswith("z" * MAX_DETAIL_CHARS) and capped.endswith("(5 more characters)")
    assert brief("n\x1b" * 300, 10) == "n\\x1bn\\x1bn\\x1bn\\x1bn\\x1b" + ELLIPSIS


def test_json_output_passes_bidi_controls_that_safe_escapes() -> None:
    # JSON escapes C0 controls in strings, but not RLO: the details run it through safe().
    raw = json_text({"out": "\u202eexe\x1b"})
    assert "\u202e" in raw and "\\u001b" in raw
    assert "\u202e" not in safe(raw, multiline=True).plain


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=0, max_value=80))
def test_clip_fits_and_sends_nothing_a_terminal_obeys(raw: str, width: int) -> None:
    cut = clip(raw, width)
    assert cell_len(cut) <= width
    assert not [c for c in cut if escape_of(c) is not None]
    whole = visible(raw)
    # Only about 4 characters a cell are read: more than that fit only as zero-width marks.
    if width and cell_len(whole) <= width and len(raw) <= 4 * width + 16:
        assert cut == whole
    elif width:
        assert cut.endswith(ELLIPSIS)
        assert whole.startswith(cut[:-1])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_visible_is_a_fixed_point_and_safe_agrees(raw: str) -> None:
    shown = visible(raw)
    assert visible(shown) == shown
    assert safe(raw).plain == shown
    assert safe(raw, multiline=True).plain == visible(raw, multiline=True)


class _Shows(App[None]):
    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value

    def compose(self) -> ComposeResult:
        yield Static(safe(self.value), id="shown")


@pytest.mark.parametrize("raw", ["[/]", "[b", "[@click=app.quit]q[/]", "[link=x]y[/link]"])
async def test_a_static_shows_safe_text_literally(raw: str) -> None:
    app = _Shows(raw)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.query_one("#shown", Static).render_line(0).text.rstrip() == raw
        assert app.is_running
