"""A worker's capacity: attempts start only while their requests fit; a request no live
worker can fit is reported in the run's state and waits for a worker that can."""

from __future__ import annotations

import asyncio
from typing import Any

from orchestrator.worker.capacity import Capacity
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.conftest import until
from tests.integration.conftest import Stack, StackFactory

GIB = 1024**3


class Meter:
    """How many ``heavy`` attempts run at once, and the most ever seen."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.done = 0
        self.both_in = asyncio.Event()


def _registry(meter: Meter, *, wait_for_both: bool) -> Registry:
    registry = Registry()

    async def heavy(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        meter.now += 1
        meter.most = max(meter.most, meter.now)
        if meter.now == 2:
            meter.both_in.set()
        try:
            if wait_for_both:
                await meter.both_in.wait()
            else:
                await asyncio.sleep(0.2)  # long enough for a second one to start, if allowed
        finally:
            meter.now -= 1
            meter.done += 1
        return {}

    async def small(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"ok": True}

    registry.register("heavy", heavy)
    registry.register("small", small)
    return registry


PAIR = {
    "id": "pair",
    "name": "Pair",
    "nodes": [
        {"id": "fork", "type": "parallel"},
        {"id": "left", "type": "task", "handler": "heavy", "resources": {"memory": "768MiB"}},
        {"id": "right", "type": "task", "handler": "heavy", "resources": {"memory": "768MiB"}},
    ],
    "edges": [{"source": "fork", "target": "left"}, {"source": "fork", "target": "right"}],
}


def _worker(stack: Stack, registry: Registry, capacity: str) -> asyncio.Task[None]:
    worker = Worker(
        stack.redis,
        stack.keys,
        stack.settings,
        registry,
        concurrency=4,
        capacity=Capacity.parse(capacity, Capacity(64 * GIB, 8.0)),
    )
    task = asyncio.create_task(worker.run(stack.stop))
    stack.tasks.append(task)
    return task


async def test_a_1gib_worker_never_runs_two_768mib_jobs_at_once(make_stack: StackFactory) -> None:
    stack = await make_stack()
    meter = Meter()
    stack.start(workers=0)
    _worker(stack, _registry(meter, wait_for_both=False), "memory=1GiB")
    await stack.workflow(PAIR)
    runs = [await stack.service.start("pair") for _ in range(3)]
    for run in runs:
        assert (await stack.wait(run.run_id)).status == "completed"
    assert meter.done == 6
    assert meter.most == 1


async def test_with_room_for_both_they_run_together(make_stack: StackFactory) -> None:
    stack = await make_stack()
    meter = Meter()
    stack.start(workers=0)
    # Each attempt waits until the other one is in: this run ends only if both fit at once.
    _worker(stack, _registry(meter, wait_for_both=True), "memory=2GiB")
    await stack.workflow(PAIR)
    assert (await stack.run("pair")).status == "completed"
    assert meter.most == 2


async def test_a_request_no_live_worker_fits_is_reported_and_waits(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    meter = Meter()
    stack.start(workers=0)
    _worker(stack, _registry(meter, wait_for_both=False), "memory=1GiB,cpu=2")
    await stack.workflow(
        {
            "id": "big",
            "name": "Big",
            "nodes": [{"id": "huge", "type": "task", "handler": "heavy",
                       "resources": {"memory": "8GiB"}}],
        }
    )  # fmt: skip
    await stack.workflow(
        {"id": "tiny", "name": "Tiny", "nodes": [{"id": "a", "type": "task", "handler": "small"}]}
    )
    big = await stack.service.start("big")

    async def reported() -> bool:
        view = await stack.service.view(big.run_id)
        return "can fit" in str(view["nodes"]["huge"].get("waitingFor", ""))

    await until(reported, "the run's state to say no worker can fit the request")
    view = await stack.service.view(big.run_id)
    assert view["nodes"]["huge"]["waitingFor"] == (
        "no live worker offering handler 'heavy' can fit its request: "
        "memory 8 GiB (the largest offers 1 GiB)"
    )
    # The small worker keeps serving what fits.
    assert (await stack.run("tiny")).status == "completed"
    assert meter.done == 0

    _worker(stack, _registry(meter, wait_for_both=False), "memory=16GiB")
    assert (await stack.wait(big.run_id)).status == "completed"
    assert meter.done == 1
