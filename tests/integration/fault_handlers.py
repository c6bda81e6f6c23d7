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


@handler("payment")
def payment(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """A side effect recorded under the attempt's idempotency key, then a crash window.

    1st call: records, then sleeps (its worker is killed there); 2nd (the redelivery):
    records, then fails (so the node retries); 3rd (the retry attempt): records, succeeds.
    """
    ledger = Path(ctx.params["marker_dir"]) / f"ledger.{ctx.run_id}"
    with ledger.open("a") as fh:
        fh.write(ctx.idempotency_key + "\n")
    calls = len(ledger.read_text().splitlines())
    if calls == 1:
        time.sleep(float(ctx.params.get("sleep_s", 3)))
    elif calls == 2:
        raise RuntimeError("card declined")
    return {"charged": ctx.idempotency_key}


@handler("slowitem")
def slowitem(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """One item of a map: marks its execution, pauses (long enough to be killed), echoes."""
    _mark(ctx)
    time.sleep(float(ctx.params.get("sleep_s", 0.5)))
    return {"seen": data["item"]}
