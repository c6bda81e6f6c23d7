"""Declared parameter patterns, matched by RE2: time linear in the text, whatever the pattern.

A workflow's author writes ``pattern: "(a+)+$"``; a caller then sends a 54-character value.
Python's backtracking ``re`` took 21.9 s for that (every two more characters x4), holding
the API's event loop.  RE2 (``google-re2``) compiles to an automaton and never backtracks, so
a match costs time proportional to the value, and a pattern RE2 cannot run that way
(backreferences, lookaround) is refused when the workflow is saved, with the reason.

RE2's syntax is Python's for everything else (classes, groups, ``(?P<name>...)``, ``(?i)``,
``{m,n}`` up to 1000); ``\\d`` and ``\\w`` match ASCII only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN_LENGTH = 1000
_MAX_PROGRAM_BYTES = 1 << 20
"""Memory RE2 may use for one compiled pattern: ``(a{999}){999}`` is refused, not built."""


class PatternError(ValueError):
    """The pattern is not one RE2 can run (the message says why)."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.max_mem = _MAX_PROGRAM_BYTES
    return options


_OPTIONS = _options()


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern (cached); :class:`PatternError` when RE2 refuses it."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"a pattern may have at most {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        hint = ""
        if "perl operator" in reason or "escape sequence" in reason:
            hint = " (no lookaround or backreferences: they can take exponential time)"
        raise PatternError(f"{reason}{hint}") from None


def full_match(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches the whole of ``text``; :class:`PatternError` if invalid."""
    return compile_pattern(pattern).fullmatch(text) is not None
