"""What the ``dagq bench`` commands share: progress lines, the machine line, number lists."""

from __future__ import annotations

from typing import Any

import click


def progress(as_json: bool) -> Any:
    """Progress lines on stderr (stdout stays one JSON object with --json)."""
    del as_json  # on stderr either way
    return lambda message: click.echo(f"  {message}", err=True)


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, "
        f"Redis {m['redis']}"
    )


def ints(text: str) -> list[int]:
    try:
        values = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise click.BadParameter("every value must be a positive number")
    return values
