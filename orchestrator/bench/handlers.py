"""The benchmark's handlers: ``dagq worker --handlers orchestrator.bench.handlers``.

No-op on purpose: the benchmarks measure the orchestration (queueing, state, joins),
not work.  ``noop`` returns ``{"ok": true}`` so decision nodes have an output to test.
"""

from __future__ import annotations

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
