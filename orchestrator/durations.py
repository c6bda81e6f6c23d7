"""Durations as people write them: ``300ms``, ``60s``, ``1m30s``, ``2h``, or seconds.

Pure functions; durations are carried as ``float`` seconds everywhere in dagq.
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")
MAX_DURATION_S = 366 * 86400.0


class DurationError(ValueError):
    """A duration that does not parse or is out of range."""


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds; accept numbers or strings such as ``1m30s``.

    Raises :class:`DurationError` with a message that says what is accepted.
    """
    if isinstance(value, bool):
        raise DurationError(f"{value!r} is not a duration; write e.g. 300ms, 60s, 1m30s or 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text:
            raise DurationError("empty duration; write e.g. 300ms, 60s, 1m30s or 2h")
        try:
            seconds = float(text)
        except ValueError:
            if not _WHOLE.match(text):
                raise DurationError(
                    f"{value!r} is not a duration; write e.g. 300ms, 60s, 1m30s or 2h"
                ) from None
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    else:
        raise DurationError(f"{value!r} is not a duration; write e.g. 300ms, 60s, 1m30s or 2h")
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise DurationError(f"{value!r} is not a duration: it must be a finite number >= 0")
    if seconds > MAX_DURATION_S:
        raise DurationError(f"{value!r} is longer than the maximum of 366 days")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds in the shortest canonical form that parses back to the same value."""
    if seconds == 0:
        return "0s"
    ms_total = round(seconds * 1000)
    if abs(ms_total / 1000 - seconds) > 1e-9 or ms_total % 1000:
        if ms_total < 1000 and abs(ms_total / 1000 - seconds) <= 1e-9:
            return f"{ms_total}ms"
        return f"{seconds:g}s"
    whole = ms_total // 1000
    out = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
