"""A clean stop of an orchestrator finishes the batch it is applying: nothing it read is
left unacknowledged for another orchestrator to claim a visibility timeout later."""

from __future__ import annotations

import asyncio
from typing import Any

from orchestrator.keys import ORCH_GROUP
from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.runs import RunService
from tests.integration.conftest import StackFactory

ONE_TASK = {"id": "one", "name": "One", "nodes": [{"id": "a", "type": "task", "handler": "h"}]}


class HeldOrchestrator(Orchestrator):
    """Holds each batch until the test lets it go."""

    def __init__(self, service: RunService) -> None:
        super().__init__(service)
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def process(self, shard: int, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        self.holding.set()
        await self.release.wait()
        await super().process(shard, entries)


async def test_a_stop_mid_batch_applies_and_acknowledges_the_batch(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()

    @stack.handler("h")
    def h(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"done": True}

    await stack.workflow(ONE_TASK)
    orchestrator = HeldOrchestrator(RunService(stack.redis, stack.keys, stack.settings))
    stop = asyncio.Event()
    loop = asyncio.create_task(orchestrator.run(stop))
    stack.start(orchestrators=0)  # a worker only
    run = await stack.service.start("one")
    await asyncio.wait_for(orchestrator.holding.wait(), timeout=30)

    stop.set()  # the orchestrator is asked to stop while it holds a batch read from the inbox
    orchestrator.release.set()
    await asyncio.wait_for(loop, timeout=30)

    groups: Any = await stack.redis.xinfo_groups(stack.keys.inbox(stack.keys.shard_of(run.run_id)))
    (group,) = [g for g in groups if g["name"] in (ORCH_GROUP, ORCH_GROUP.encode())]
    assert group["pending"] == 0  # the batch in hand was applied and acknowledged
    state = await stack.service.get(run.run_id)
    assert state.nodes["a"].status in ("running", "completed")  # its start (at least) applied
