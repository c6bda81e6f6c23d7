"""Handlers for the fault tests: they record every execution in a folder given by the run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from orchestrator import HandlerContext, handler


def _mark(ctx: HandlerContext) -> None:
    folder = Path(ctx.params["marker_dir"])
    with (folder / f"{ctx.run_id}.{ctx.node_id}.{ctx.attempt}").open("a") as fh:
        fh.write("x")


@handler("slowstep")
def slowstep(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Runs long enough to be killed in the middle."""
    _mark(ctx)
    time.sleep(float(ctx.params.get("sleep_s", 3)))
    return {"slow": ctx.node_id}


@handler("quick")
def quick(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Returns at once (after a short pause that keeps runs in flight for a while)."""
    _mark(ctx)
    time.sleep(float(ctx.params.get("pause_s", 0)))
    return {ctx.node_id: True}
