"""Live workers: who they are, which handlers they offer, how busy they are, what they
offer (memory, CPU) and what their running attempts hold of it, and what their isolated
handlers' child processes use.

Times are shown as UTC clock times (when the worker started, when it was last
heard from), so the table reads the same in a snapshot and across time zones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from app.text import safe
from app.widgets.ops_format import clock
from orchestrator.sizes import format_bytes
from orchestrator.wire.ops import WorkerView

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

    def show(self, workers: Sequence[WorkerView]) -> None:
        """Show the ``workers`` of ``GET /queues``."""
        rows = sorted(workers, key=lambda w: w.id)
        cursor = self.cursor_row
        self.clear()
        self.worker_ids = [w.id for w in rows]
        for worker in rows:
            in_flight, slots = worker.inFlight, worker.concurrency
            busy = Text(f"{in_flight}/{slots}", style="bold #ffd75f" if in_flight else "dim")
            self.add_row(
                safe(worker.id, width=WORKER_WIDTH),
                busy,
                Text(str(worker.processed), justify="right"),
                clock(worker.lastSeenMs),
                safe(f"{worker.host}:{worker.pid}", width=HOST_WIDTH),
                safe(", ".join(worker.handlers), width=HANDLERS_WIDTH),
                *_resources(worker),
                key=worker.id,
            )
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1), animate=False)


def _resources(worker: WorkerView) -> tuple[Text, Text, Text]:
    """Memory and CPU reserved of the capacity, and the isolated children's usage."""
    capacity, reserved, usage = worker.capacity, worker.reserved, worker.usage
    if capacity is None or reserved is None:
        dash = Text("-", style="dim")
        return dash, dash, dash
    held_mem, cap_mem = float(reserved.memory), float(capacity.memory)
    held_cpu, cap_cpu = float(reserved.cpu), float(capacity.cpu)
    full = "bold #ffd75f"
    memory = Text(
        f"{_short(held_mem)}/{_short(cap_mem)}",
        style=full if cap_mem and held_mem >= cap_mem * 0.9 else "",
    )
    cpu = Text(f"{held_cpu:g}/{cap_cpu:g}", style=full if cap_cpu and held_cpu >= cap_cpu else "")
    children = Text("-", style="dim")
    if usage is not None and usage.children:
        children = Text(f"{usage.children}: {_short(float(usage.rss))}")
    return memory, cpu, children


def _short(size: float) -> str:
    """``805306368`` -> ``768M``: the unit letter only, for a narrow column."""
    return format_bytes(size).replace(" ", "").replace("iB", "").replace("B", "")


def totals(workers: Sequence[WorkerView]) -> str:
    """``memory 1.5G/4G · cpu 1.5/2`` reserved of the live workers' capacity ('' if none
    announces one)."""
    held_mem = cap_mem = held_cpu = cap_cpu = 0.0
    seen = False
    for w in workers:
        capacity, reserved = w.capacity, w.reserved
        if capacity is not None and reserved is not None:
            seen = True
            held_mem += reserved.memory
            cap_mem += capacity.memory
            held_cpu += reserved.cpu
            cap_cpu += capacity.cpu
    if not seen:
        return ""
    return f"memory {_short(held_mem)}/{_short(cap_mem)} · cpu {held_cpu:g}/{cap_cpu:g}"
