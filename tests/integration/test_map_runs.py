"""Map nodes end to end on a real Redis: orchestrator, executor, queue and workers together."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from orchestrator.engine.state import item_key
from orchestrator.worker.registry import HandlerContext
from tests.integration.conftest import Stack, StackFactory
from tests.integration.test_faults import HANDLERS, Processes, executions, processes

__all__ = ["processes"]  # the fixture, shared with the fault tests


def _spec(name: str, **map_fields: Any) -> dict[str, Any]:
    node = {"id": "m", "type": "map", "items": "params.records", "handler": "each", **map_fields}
    return {
        "name": name,
        "nodes": [node, {"id": "after", "type": "task", "handler": "count"}],
        "edges": [{"source": "m", "target": "after"}],
        "parameters": {"records": {"type": "array"}},
    }


def _count_handler(stack: Stack) -> None:
    @stack.handler("count")
    async def count(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"n": len(data["results"]), "failed": len(data["failed"])}


async def _item_events(stack: Stack, run_id: str, kind: str) -> Counter[int]:
    """How often each item index was recorded as ``kind`` (every page of the stream)."""
    seen: Counter[int] = Counter()
    after: str | None = None
    while page := await stack.service.events(run_id, after=after):
        seen.update(e.data["index"] for e in page if e.type == kind)
        after = page[-1].id
    return seen


async def test_maps_of_zero_one_and_a_thousand_items(make_stack: StackFactory) -> None:
    stack = await make_stack()
    _count_handler(stack)

    @stack.handler("each")
    async def each(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"double": data["item"] * 2, "index": data["index"]}

    stack.start(concurrency=32)
    spec = await stack.workflow(_spec("fan"))
    for size in (0, 1, 1000):
        state = await stack.run(spec.id, {"records": list(range(size))}, timeout_s=120)
        assert state.status == "completed", state.error
        out = state.nodes["m"].output or {}
        assert out["results"] == [{"double": i * 2, "index": i} for i in range(size)]
        assert out["failed"] == []
        assert state.nodes["after"].output == {"n": size, "failed": 0}
        assert state.nodes["m"].progress == {
            "total": size,
            "done": size,
            "failed": 0,
            "active": 0,
            "next": size,
        }
        completed = await _item_events(stack, state.run_id, "item_completed")
        assert completed == Counter(range(size)), "every item applied exactly once"


async def test_max_parallel_is_never_exceeded(make_stack: StackFactory) -> None:
    stack = await make_stack()
    _count_handler(stack)
    running = 0
    peak = 0

    @stack.handler("each")
    async def each(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)  # keep items overlapping; the worker could run 32
        running -= 1
        return {}

    stack.start(concurrency=32)
    spec = await stack.workflow(_spec("capped", max_parallel=3))
    state = await stack.run(spec.id, {"records": list(range(60))}, timeout_s=60)
    assert state.status == "completed"
    assert peak == 3


async def test_item_retries_and_tolerated_failures(make_stack: StackFactory) -> None:
    stack = await make_stack()
    _count_handler(stack)

    @stack.handler("each")
    async def each(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        item = data["item"]
        if item == "flaky" and ctx.attempt == 1:
            raise RuntimeError("first try fails")
        if item == "bad":
            raise ValueError(f"bad record {data['index']}")
        return {"ok": item}

    stack.start()
    records = ["a", "flaky", "bad", "b", "bad"]
    below = await stack.workflow(_spec("tolerant", retries=1, tolerate_failures=2))
    state = await stack.run(below.id, {"records": records})
    assert state.status == "completed"
    out = state.nodes["m"].output or {}
    assert out["results"] == [{"ok": "a"}, {"ok": "flaky"}, None, {"ok": "b"}, None]
    assert out["failed"] == [
        {"index": 2, "error": "bad record 2"},
        {"index": 4, "error": "bad record 4"},
    ]
    assert state.items[item_key("m", 1)].attempts == 2
    assert state.items[item_key("m", 2)].attempts == 2  # retried, then failed for good
    assert state.nodes["after"].output == {"n": 5, "failed": 2}

    above = await stack.workflow(_spec("strict", retries=0, tolerate_failures=1))
    state = await stack.run(above.id, {"records": records})
    assert state.status == "failed"
    assert state.nodes["m"].status == "failed"
    assert "2 of 5 items failed" in (state.error or "")
    assert state.nodes["after"].status == "cancelled"


async def test_kill_9_of_a_worker_mid_map_applies_every_item_once(
    make_stack: StackFactory, processes: Processes, tmp_path: Path
) -> None:
    stack = await make_stack(visibility_timeout=1)
    _count_handler(stack)
    stack.start(workers=1)  # runs "count"; the items run in real worker processes
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = await stack.workflow(
        {**_spec("killable-map", max_parallel=4, handler="slowitem"), "parameters": {}}
    )
    doomed = processes.start("worker", "--handlers", HANDLERS, "--no-orchestrator")
    records = list(range(12))
    run = await stack.service.start(
        spec.id, {"records": records, "marker_dir": str(marks), "sleep_s": 0.5}
    )

    async def items_running() -> bool:
        return sum(n for (r, _), n in executions(marks).items() if r == run.run_id) >= 2

    await stack.until(items_running, timeout_s=30)
    processes.kill9(doomed)
    processes.start("worker", "--handlers", HANDLERS, "--no-orchestrator")
    final = await stack.wait(run.run_id, timeout_s=90)

    assert final.status == "completed", final.error
    out = final.nodes["m"].output or {}
    assert out["results"] == [{"seen": i} for i in records]
    completed = await _item_events(stack, run.run_id, "item_completed")
    assert completed == Counter(records), "every item applied exactly once"
    redone = [node for (r, node), n in executions(marks).items() if r == run.run_id and n > 1]
    assert redone, "the killed worker's items ran again"
    assert all(final.items[node].attempts == 1 for node in redone)  # redelivered, not retried
