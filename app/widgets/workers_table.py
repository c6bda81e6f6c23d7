"""Live workers: who they are, which handlers they offer, how busy they are, what they
offer (memory, CPU) and what their running attempts hold of it, and what their isolated
handlers' child processes use.

Times are shown as UTC clock times (when the worker started, when it was last
heard from), so the table reads the same in a snapshot and across time zones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from app.text import safe
from app.widgets.ops_format import clock
from orchestrator.sizes import format_bytes

HANDLERS_WIDTH = 40
WORKER_WIDTH = 40
HOST_WIDTH = 32


class WorkersTable(DataTable[Any]):
    """One row per live worker."""

    DEFAULT_CSS = """
    WorkersTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty table."""
        super().__init__(cursor_type="row", zebra_stripes=True, id=id, classes=classes)
        self.worker_ids: list[str] = []

    def on_mount(self) -> None:
        """Columns."""
        # What a worker reserved of its capacity comes last: who and where come first.
        for label in ("worker", "busy", "done", "seen", "host", "handlers", "memory", "cpu",
                      "children"):  # fmt: skip
            self.add_column(label, key=label)

    def show(self, workers: Sequence[Mapping[str, Any]]) -> None:
        """Show the ``workers`` of ``GET /queues``."""
        rows = sorted(
            (w for w in workers if isinstance(w, Mapping)), key=lambda w: str(w.get("id"))
        )
        cursor = self.cursor_row
        self.clear()
        self.worker_ids = [str(w.get("id")) for w in rows]
        for worker in rows:
            in_flight, slots = int(worker.get("inFlight") or 0), int(worker.get("concurrency") or 0)
            handlers = worker.get("handlers") or []
            busy = Text(f"{in_flight}/{slots}", style="bold #ffd75f" if in_flight else "dim")
            self.add_row(
                safe(worker.get("id"), width=WORKER_WIDTH),
                busy,
                Text(str(worker.get("processed", 0)), justify="right"),
                clock(worker.get("lastSeenMs")),
                safe(f"{worker.get('host', '?')}:{worker.get('pid', '?')}", width=HOST_WIDTH),
                safe(", ".join(str(h) for h in handlers), width=HANDLERS_WIDTH),
                *_resources(worker),
                key=str(worker.get("id")),
            )
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1), animate=False)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _resources(worker: Mapping[str, Any]) -> tuple[Text, Text, Text]:
    """Memory and CPU reserved of the capacity, and the isolated children's usage."""
    capacity = worker.get("capacity")
    reserved = worker.get("reserved")
    usage = worker.get("usage")
    if not isinstance(capacity, Mapping) or not isinstance(reserved, Mapping):
        dash = Text("-", style="dim")
        return dash, dash, dash
    held_mem, cap_mem = _number(reserved.get("memory")), _number(capacity.get("memory"))
    held_cpu, cap_cpu = _number(reserved.get("cpu")), _number(capacity.get("cpu"))
    full = "bold #ffd75f"
    memory = Text(
        f"{_short(held_mem)}/{_short(cap_mem)}",
        style=full if cap_mem and held_mem >= cap_mem * 0.9 else "",
    )
    cpu = Text(f"{held_cpu:g}/{cap_cpu:g}", style=full if cap_cpu and held_cpu >= cap_cpu else "")
    children = Text("-", style="dim")
    if isinstance(usage, Mapping) and _number(usage.get("children")):
        count = int(_number(usage.get("children")))
        children = Text(f"{count}: {_short(_number(usage.get('rss')))}")
    return memory, cpu, children


def _short(size: float) -> str:
    """``805306368`` -> ``768M``: the unit letter only, for a narrow column."""
    return format_bytes(size).replace(" ", "").replace("iB", "").replace("B", "")


def totals(workers: Sequence[Mapping[str, Any]]) -> str:
    """``memory 1.5G/4G · cpu 1.5/2`` reserved of the live workers' capacity ('' if none
    announces one)."""
    held_mem = cap_mem = held_cpu = cap_cpu = 0.0
    seen = False
    for w in workers:
        capacity, reserved = w.get("capacity"), w.get("reserved")
        if isinstance(capacity, Mapping) and isinstance(reserved, Mapping):
            seen = True
            held_mem += _number(reserved.get("memory"))
            cap_mem += _number(capacity.get("memory"))
            held_cpu += _number(reserved.get("cpu"))
            cap_cpu += _number(capacity.get("cpu"))
    if not seen:
        return ""
    return f"memory {_short(held_mem)}/{_short(cap_mem)} · cpu {held_cpu:g}/{cap_cpu:g}"
