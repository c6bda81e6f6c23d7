"""Text from users and handlers, made safe to show.

Everything a person or a handler wrote — workflow, node and edge names and ids,
descriptions, tags, parameters, errors, outputs, user names, audit details, dead
letters, worker names, change logs — reaches the screen through this module:

- **never as markup**: :func:`safe` returns a Rich ``Text``, which Textual shows as it
  is (a ``str`` handed to a ``Static``, a table cell, an option or a border title is
  parsed as markup: ``[/]`` raises, ``[@click=app.quit]`` becomes an action);
  :func:`visible` and :func:`clip` return plain strings for the few places that take
  nothing else (inputs, and notifications, which the app shows with markup off);
- **never as a terminal control**: C0 and C1 controls, DEL, ANSI escapes, bidi
  overrides and marks, and other invisible format characters are shown as a visible
  escape (``\\x1b``, ``\\u202e``), styled apart (:data:`ESCAPE_STYLE`) in ``Text`` so
  it cannot pass for a typed backslash.  Textual passes ESC, RLO and the C1 CSI
  through to the terminal as they are, so an unescaped name could recolour or
  reorder the screen;
- **never longer than its place**: one-line places cut at a width with ``…`` in time
  proportional to the width, not to the text (a 10,000-character name costs what a
  short one does); the details panels show the whole value, wrapped, up to
  :data:`MAX_DETAIL_CHARS`.

Zero-width joiners (U+200C, U+200D) stay: emoji and several scripts need them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from rich.cells import cell_len, get_character_cell_size
from rich.style import Style
from rich.text import Text

ELLIPSIS = "…"
ESCAPE_STYLE = Style(reverse=True)
"""How an escaped character is drawn inside ``Text``: reverse video, so ``\\x1b`` made
visible differs from the four characters a user typed."""
MAX_DETAIL_CHARS = 20_000
"""The most of one value a details panel shows (a note says how much was left out)."""
TAB_SPACES = 4
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_KEPT_FORMAT = frozenset("\u200c\u200d")
_SUSPECT = re.compile(r"[^\x20-\x7e]")


@lru_cache(maxsize=4096)
def escape_of(char: str) -> str | None:
    """The visible escape of ``char`` when it must not reach the terminal, else None.

    Controls (C0, DEL, C1), surrogates, line and paragraph separators and format
    characters (bidi controls, zero-width spaces, tag characters) are escaped; every
    other character, however exotic, is shown as itself.
    """
    if " " <= char <= "~":
        return None
    category = unicodedata.category(char)
    if category in ("Cc", "Cs", "Zl", "Zp") or (category == "Cf" and char not in _KEPT_FORMAT):
        if char in _SHORT_ESCAPES:
            return _SHORT_ESCAPES[char]
        code = ord(char)
        if code <= 0xFF:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return None


def _pieces(text: str, multiline: bool) -> Iterator[tuple[str, bool]]:
    """``text`` as ``(piece, escaped)``: runs of plain characters and single escapes.

    ``multiline`` keeps line breaks (``\\r\\n`` becomes ``\\n``) and turns tabs into
    spaces; otherwise they are escaped like any control.  Printable ASCII is skipped at C
    speed, so a long plain run costs one regex scan.
    """
    start = pos = 0
    while (found := _SUSPECT.search(text, pos)) is not None:
        i = found.start()
        pos = i + 1
        char = text[i]
        escaped = False
        if multiline and char == "\n":
            continue
        if multiline and char == "\r" and text.startswith("\n", i + 1):
            replacement: str | None = ""
        elif multiline and char == "\t":
            replacement = " " * TAB_SPACES
        else:
            replacement, escaped = escape_of(char), True
            if replacement is None:
                continue
        if start < i:
            yield text[start:i], False
        if replacement:
            yield replacement, escaped
        start = pos
    if start < len(text):
        yield text[start:], False


def visible(value: object, *, multiline: bool = False) -> str:
    """``value`` as a string with every control shown as its escape (see :func:`escape_of`)."""
    text = "" if value is None else str(value)
    return "".join(piece for piece, _ in _pieces(text, multiline))


def _head(text: str, cells: int) -> str:
    """The longest start of ``text`` that fits in ``cells`` cells."""
    used = 0
    for index, char in enumerate(text):
        used += get_character_cell_size(char)
        if used > cells:
            return text[:index]
    return text


def _line(value: object, width: int) -> tuple[list[tuple[str, bool]], bool]:
    """The pieces of ``value`` (on one line) that fit in ``width`` cells, and whether
    something was left out (then they fill at most ``width - 1`` cells: room for ``…``).

    Only the first ``4 * width + 16`` characters are read, so the cost does not depend on
    the length of the text.  A longer text fits in ``width`` cells only with many
    zero-width marks; it is shown cut, with ``…``.
    """
    text = "" if value is None else str(value)
    if width <= 0:
        return [], bool(text)
    budget = 4 * width + 16
    head = text[:budget]
    kept: list[tuple[str, bool]] = []
    used = 0
    overflow = len(text) > budget
    for piece, escaped in _pieces(head, False):
        size = cell_len(piece)  # at most `budget` characters: bounded
        if used + size > width:
            if not escaped and (part := _head(piece, width - used)):
                kept.append((part, False))
            overflow = True
            break
        kept.append((piece, escaped))
        used += size
    if not overflow:
        return kept, False
    # Make room for the ellipsis: drop cells from the end (an escape goes whole).
    room = width - 1
    used = sum(cell_len(piece) for piece, _ in kept)
    while kept and used > room:
        piece, escaped = kept.pop()
        used -= cell_len(piece)
        if not escaped and used < room and (part := _head(piece, room - used)):
            kept.append((part, False))
            used += cell_len(part)
    return kept, True


def clip(value: object, width: int) -> str:
    """``value`` on one line, controls escaped, cut to ``width`` cells with ``…``."""
    kept, cut = _line(value, width)
    return "".join(piece for piece, _ in kept) + (ELLIPSIS if cut and width > 0 else "")


def safe(
    value: object,
    *,
    width: int | None = None,
    multiline: bool = False,
    style: str | Style = "",
) -> Text:
    """``value`` as ``Text`` to show: never markup, controls escaped (and styled apart).

    ``width`` cuts it to one line of that many cells with ``…``; without it a one-line
    value is whole, and a ``multiline`` one (errors, outputs: for details panels) keeps
    its line breaks.  Either is cut after :data:`MAX_DETAIL_CHARS` characters, with a
    note of how many more there were.
    """
    out = Text(style=style)
    if width is not None:
        kept, cut = _line(value, width)
        for piece, escaped in kept:
            out.append(piece, ESCAPE_STYLE if escaped else None)
        if cut and width > 0:
            out.append(ELLIPSIS)
        return out
    text = "" if value is None else str(value)
    extra = len(text) - MAX_DETAIL_CHARS
    for piece, escaped in _pieces(text[:MAX_DETAIL_CHARS] if extra > 0 else text, multiline):
        out.append(piece, ESCAPE_STYLE if escaped else None)
    if extra > 0:
        out.append(f"{ELLIPSIS} ({extra} more characters)", "dim")
    return out


def clip_middle(value: object, width: int) -> str:
    """``value`` on one line cut in its middle to ``width`` cells: ``sto…ary`` keeps both
    ends, where names that share a start differ.  Reads about ``width`` characters."""
    if width < 3:
        return clip(value, width)
    text = "" if value is None else str(value)
    if cell_len(visible(text[: 4 * width + 16])) <= width and len(text) <= 4 * width + 16:
        return visible(text)
    tail_cells = (width - 1) // 2
    head = clip(text, width - tail_cells)  # its last cell is the ellipsis
    tail = visible(text[-(2 * tail_cells + 8) :])
    kept: list[str] = []
    used = 0
    for char in reversed(tail):
        used += get_character_cell_size(char)
        if used > tail_cells:
            break
        kept.append(char)
    return head + "".join(reversed(kept))


def width_of(value: object, limit: int) -> int:
    """Cells ``value`` takes on one line (escapes included), counting no further than
    ``limit + 1``: enough to size a box that is clamped at ``limit``."""
    kept, cut = _line(value, limit + 1)
    return limit + 1 if cut else sum(cell_len(piece) for piece, _ in kept)


def brief(value: object, max_chars: int) -> str:
    """``value`` with its line breaks kept and controls escaped, cut after ``max_chars``
    characters with ``…`` (for text that wraps: a notification)."""
    text = "" if value is None else str(value)
    if len(text) <= max_chars:
        return visible(text, multiline=True)
    return visible(text[:max_chars], multiline=True) + ELLIPSIS
