"""Byte sizes as people write them: ``512MiB``, ``4GiB``, ``1.5G``, ``300MB``, or bytes.

Binary units (``KiB``, ``MiB``, ``GiB``, ``TiB``, and the short ``K``, ``M``, ``G``, ``T``
as Kubernetes and ``ulimit`` readers expect) are powers of 1024; ``KB``, ``MB``, ``GB``,
``TB`` are powers of 1000.  Pure functions; sizes are carried as ``int`` bytes.
"""

from __future__ import annotations

import math
import re

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "ki": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "ti": 1024**4,
    "tib": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]*)$")
MAX_BYTES = 1024**5
"""1 PiB: larger sizes are typing mistakes."""
_HINT = "write e.g. 512MiB, 4GiB or 300MB"


class SizeError(ValueError):
    """A size that does not parse or is out of range."""


def parse_bytes(value: object) -> int:
    """``value`` in bytes: an integer, or a number with a unit (``512MiB``)."""
    if isinstance(value, bool):
        raise SizeError(f"{value!r} is not a size; {_HINT}")
    if isinstance(value, int | float):
        amount = float(value)
    elif isinstance(value, str):
        match = _SIZE.match(value.strip().lower())
        if match is None or match.group(2) not in _UNITS:
            raise SizeError(f"{value!r} is not a size; {_HINT}")
        amount = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise SizeError(f"{value!r} is not a size; {_HINT}")
    if math.isnan(amount) or math.isinf(amount) or amount < 0:
        raise SizeError(f"{value!r} is not a size: it must be a finite number >= 0")
    if amount > MAX_BYTES:
        raise SizeError(f"{value!r} is larger than the maximum of 1 PiB")
    return int(amount)


def format_bytes(size: int | float) -> str:
    """``268435456`` -> ``256 MiB``: the largest binary unit, at most one decimal."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            value = size / factor
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{int(size)} B"


def compact_bytes(size: int) -> str:
    """``size`` as the shortest exact text :func:`parse_bytes` reads back (``512MiB``)."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
