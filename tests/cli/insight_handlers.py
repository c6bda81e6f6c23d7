"""Handlers of known duration for the insight tests (run by a real ``dagq worker``).

``nap`` sleeps ``SLEEP_S[node] * params.scale`` seconds; ``flaky_nap`` does the same
but its first attempt fails after sleeping.
"""

from __future__ import annotations

import time
from typing import Any

from orchestrator import HandlerContext, handler

SLEEP_S = {"prep": 0.1, "fast": 0.2, "slow": 0.3, "report": 0.1}


def _nap(ctx: HandlerContext) -> float:
    seconds = SLEEP_S[ctx.node_id] * float(ctx.params.get("scale", 1.0))
    time.sleep(seconds)
    return seconds


@handler("nap")
def nap(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Sleeps a fixed time and says how long."""
    return {ctx.node_id: _nap(ctx)}


@handler("flaky_nap")
def flaky_nap(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Sleeps, then fails on the first attempt; succeeds on the next."""
    slept = _nap(ctx)
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return {ctx.node_id: slept, "attempts": ctx.attempt}
