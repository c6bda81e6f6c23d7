"""A worker that runs the orchestrator loop applies its own results (no inbox hop).

Its compare-and-set write also acknowledges the jobs; anything it cannot apply (a run
another process moved on, a stale result) takes the inbox path.  Either way each node
completes once and keeps its ``node_started`` event.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from orchestrator.engine.commands import Command
from orchestrator.engine.state import RunState
from orchestrator.keys import WORKER_GROUP
from orchestrator.protocol import InboxMessage
from tests.integration.conftest import Stack, StackFactory
from tests.integration.test_runs import DIAMOND


async def _events_by_node(stack: Stack, run_id: str) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for e in await stack.events(run_id):
        if e.node is not None:
            out.setdefault(e.node, Counter())[e.type] += 1
    return out


async def _inbox_kinds(stack: Stack) -> Counter[str]:
    rows: Any = await stack.redis.xrange(stack.keys.inbox(0))
    return Counter(InboxMessage.decode(f[b"d"]).type for _, f in rows)


async def _queues_empty(stack: Stack) -> bool:
    for key in await stack.redis.keys(f"{stack.keys.prefix}*q:*"):
        if await stack.redis.type(key) == b"stream":
            groups: Any = await stack.redis.xinfo_groups(key)
            pending = sum(int(g["pending"]) for g in groups if g["name"] == WORKER_GROUP.encode())
            if pending or await stack.redis.xlen(key):
                return False
    return True


async def test_a_lone_embedded_worker_applies_every_result_itself(make_stack: StackFactory) -> None:
    stack = await make_stack()

    @stack.handler("noop")
    async def noop(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"ok": True}

    (orch,) = stack.start(orchestrators=0, workers=1, embedded=True)
    spec = await stack.workflow(DIAMOND)
    finals = await asyncio.gather(*(stack.run(spec.id) for _ in range(5)))
    assert {f.status for f in finals} == {"completed"}
    for final in finals:
        for node, kinds in (await _events_by_node(stack, final.run_id)).items():
            assert kinds["node_started"] == 1, (node, kinds)
            assert kinds["node_completed"] == 1, (node, kinds)
    assert orch.applied_own == 50
    assert (await _inbox_kinds(stack))["succeeded"] == 0, "a result took the inbox hop"
    await stack.until(lambda: _queues_empty(stack))  # every job acknowledged and deleted


async def test_results_the_worker_cannot_apply_take_the_inbox_and_apply_once(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await make_stack()

    @stack.handler("noop")
    async def noop(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"ok": True}

    (orch,) = stack.start(orchestrators=0, workers=1, embedded=True)
    write_many = orch.service.runs.write_many

    async def rival_first(
        writes: Sequence[tuple[RunState, RunState, Sequence[Command], int]],
        acks: Sequence[Sequence[tuple[str, str]]] = (),
    ) -> list[int | None]:
        if acks:  # the worker's own writes: another process moved each run on just before
            for old, *_ in writes:
                await stack.redis.hincrby(stack.keys.run(old.run_id), "v", 1)
        return await write_many(writes, acks)

    monkeypatch.setattr(orch.service.runs, "write_many", rival_first)
    spec = await stack.workflow(DIAMOND)
    final = await stack.run(spec.id)
    assert final.status == "completed"
    assert orch.applied_own == 0
    kinds = await _inbox_kinds(stack)
    assert kinds["succeeded"] == 10 and kinds["started"] == 10  # started first, then result
    for node, counts in (await _events_by_node(stack, final.run_id)).items():
        assert counts["node_started"] == 1 and counts["node_completed"] == 1, (node, counts)
    await stack.until(lambda: _queues_empty(stack))


async def test_two_embedded_workers_sharing_runs_complete_each_node_once(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()

    @stack.handler("noop")
    async def noop(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"ok": True}

    orchs = stack.start(orchestrators=0, workers=2, embedded=True, concurrency=8)
    spec = await stack.workflow(DIAMOND)
    finals = await asyncio.gather(*(stack.run(spec.id) for _ in range(30)))
    assert {f.status for f in finals} == {"completed"}
    for final in finals:
        for node, kinds in (await _events_by_node(stack, final.run_id)).items():
            assert kinds["node_completed"] == 1, (node, kinds)
            assert kinds["node_started"] == 1, (node, kinds)
    assert sum(o.applied_own for o in orchs) > 0
    await stack.until(lambda: _queues_empty(stack))


async def test_runs_complete_after_the_server_forgets_its_scripts(make_stack: StackFactory) -> None:
    """A restarted or promoted server has no scripts: pipelines that send a bare EVALSHA
    fail until the next check loads them again, and the runs go on (nothing lost)."""
    stack = await make_stack()

    @stack.handler("noop")
    async def noop(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"ok": True}

    stack.start(orchestrators=1, workers=1, embedded=True)
    spec = await stack.workflow(DIAMOND)
    first = await stack.run(spec.id)
    assert first.status == "completed"
    await stack.redis.script_flush()
    finals = await asyncio.gather(*(stack.run(spec.id) for _ in range(5)))
    assert {f.status for f in finals} == {"completed"}
