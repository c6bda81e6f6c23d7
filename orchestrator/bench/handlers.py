"""The benchmark's handlers: ``dagq worker --handlers orchestrator.bench.handlers``.

No-op on purpose: the benchmarks measure the orchestration (queueing, state, joins),
not work.  ``noop`` returns ``{"ok": true}`` so decision nodes have an output to test.
"""

from __future__ import annotations

import time
from typing import Any

from orchestrator.worker.registry import HandlerContext, handler


@handler("noop")
async def noop(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Do nothing and succeed."""
    return {"ok": True}


@handler("items")
async def items(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """A list of ``params.count`` numbers, for ``dagq bench map`` to map over."""
    return {"items": list(range(int(ctx.params.get("count", 0))))}


@handler("stamp")
async def stamp(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """``noop`` with the wall clock in microseconds (``us``): ``dagq bench latency`` times
    the node hop from one node's handler to its successor's with these, finer than the
    millisecond times of the run's events."""
    return {"ok": True, "us": time.time_ns() // 1000}
