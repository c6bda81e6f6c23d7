"""The orchestrator acknowledges an inbox entry only once it is applied.

A result whose run stays contended, or whose message fails to apply, stays pending and
is delivered again; one that keeps failing (or cannot be read) moves to the shard's
dead letters with its error, where the Queues API and screen list it and a requeue
puts it back on the inbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from app.widgets.dead_letters import handler_cell
from orchestrator.engine import transitions
from orchestrator.engine.commands import Command
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import Event, NodeSucceeded
from orchestrator.engine.state import RunState
from orchestrator.keys import ORCH_GROUP
from orchestrator.protocol import InboxMessage
from orchestrator.service.orchestrator import INBOX_KEEP_MS, Orchestrator
from orchestrator.service.runs import RunService
from orchestrator.spec.graph import Graph
from orchestrator.store.timers import now_ms
from orchestrator.vocab import NodeStatus
from orchestrator.wire.ops import DeadLetter
from tests.conftest import until
from tests.integration.conftest import Stack, StackFactory

ONE_TASK = {"name": "inbox", "nodes": [{"id": "only", "type": "task", "handler": "echo"}]}
Entries = list[tuple[bytes, dict[bytes, bytes]]]


async def _started(stack: Stack) -> tuple[RunState, int, Orchestrator]:
    """A run whose task is queued, its result on the inbox, and an idle orchestrator."""
    spec = await stack.workflow(ONE_TASK)
    run = await stack.service.start(spec.id)
    shard = stack.keys.shard_of(run.run_id)
    orch = Orchestrator(RunService(stack.redis, stack.keys, stack.settings), claim_idle_s=0)
    await orch.ensure_groups()
    token = run.nodes["only"].token
    result = InboxMessage("succeeded", run.run_id, 1, node="only", token=token, output={"n": 1})
    await stack.redis.xadd(stack.keys.inbox(shard), {"d": result.encode()})
    return run, shard, orch


async def _read(stack: Stack, orch: Orchestrator, shard: int) -> Entries:
    reply: Any = await stack.redis.xreadgroup(
        ORCH_GROUP, orch.consumer, {stack.keys.inbox(shard): ">"}, count=100
    )
    entries: Entries = [e for _, batch in reply or [] for e in batch]
    return entries


async def _pending(stack: Stack, shard: int) -> int:
    info: Any = await stack.redis.xpending(stack.keys.inbox(shard), ORCH_GROUP)
    return int(info["pending"])


async def test_a_result_that_loses_every_compare_and_set_is_left_for_redelivery(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await make_stack()
    run, shard, orch = await _started(stack)
    write_many = orch.service.runs.write_many

    async def rival_first(
        writes: Sequence[tuple[RunState, RunState, Sequence[Command], int]],
    ) -> list[int | None]:
        # Another orchestrator moves the run on just before each of our writes.
        for old, *_ in writes:
            await stack.redis.hincrby(stack.keys.run(old.run_id), "v", 1)
        return await write_many(writes)

    monkeypatch.setattr(orch.service.runs, "write_many", rival_first)
    await orch.process(shard, await _read(stack, orch, shard))
    assert await _pending(stack, shard) == 1, "a result that was not applied was acknowledged"
    assert (await stack.service.get(run.run_id)).nodes["only"].status == NodeStatus.QUEUED

    monkeypatch.undo()  # the contention is over: the redelivery applies it
    assert await orch.claim_abandoned(shard) == 1
    assert (await stack.service.get(run.run_id)).nodes["only"].status == NodeStatus.COMPLETED
    assert await _pending(stack, shard) == 0


async def test_an_entry_that_keeps_failing_is_dead_lettered_with_its_error(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await make_stack(max_deliveries=2)
    run, shard, orch = await _started(stack)
    apply_all = transitions.apply_all

    def engine_bug(
        graph: Graph, state: RunState, events: Sequence[Event], config: EngineConfig
    ) -> tuple[RunState, list[Command]]:
        if any(isinstance(event, NodeSucceeded) for event in events):
            raise RuntimeError("engine bug")
        return apply_all(graph, state, events, config)

    monkeypatch.setattr(transitions, "apply_all", engine_bug)
    await orch.process(shard, await _read(stack, orch, shard))
    assert await _pending(stack, shard) == 1, "a failed entry was acknowledged"
    assert await orch.admin.dead_letters(shard) == []

    assert await orch.claim_abandoned(shard) == 1  # the second delivery fails too: worn out
    assert await _pending(stack, shard) == 0
    [letter] = [d.to_dict() for d in await orch.admin.dead_letters(shard)]
    assert letter["source"] == "inbox"
    assert letter["stream"] == stack.keys.inbox(shard)
    assert (letter["runId"], letter["nodeId"], letter["messageType"]) == (
        run.run_id,
        "only",
        "succeeded",
    )
    assert letter["deliveries"] == 2
    assert "engine bug" in letter["reason"]
    depths = await orch.admin.depths()
    assert [s["dlq"] for s in depths["shards"] if s["shard"] == shard] == [1]

    monkeypatch.undo()  # the bug is fixed: requeue the letter onto the inbox
    assert await orch.admin.requeue_dead([letter["id"]], shard=shard) == 1
    await orch.process(shard, await _read(stack, orch, shard))
    state = await stack.service.get(run.run_id)
    assert state.nodes["only"].status == NodeStatus.COMPLETED
    assert state.nodes["only"].output == {"n": 1}


async def test_a_malformed_inbox_entry_is_dead_lettered_at_once(make_stack: StackFactory) -> None:
    stack = await make_stack()
    _, shard, orch = await _started(stack)
    await stack.redis.xadd(stack.keys.inbox(shard), {"d": b"{not json"})
    await orch.process(shard, await _read(stack, orch, shard))
    assert await _pending(stack, shard) == 0
    [letter] = [d.to_dict() for d in await orch.admin.dead_letters(shard)]
    assert letter["source"] == "inbox"
    assert letter["reason"].startswith("malformed inbox message")
    assert letter["runId"] is None


def test_the_queues_screen_names_an_inbox_letter() -> None:
    def letter(**fields: str) -> DeadLetter:
        base = {"shard": 0, "id": "1-0", "stream": "s", "originalId": "1-0", "deliveries": 5,
                "atMs": 0, "reason": "r"}  # fmt: skip
        return DeadLetter.model_validate({**base, **fields})

    assert handler_cell(letter(source="inbox", messageType="succeeded")) == "inbox: succeeded"
    assert handler_cell(letter(source="inbox")) == "inbox: unreadable"
    assert handler_cell(letter(source="job", handler="echo")) == "echo"


async def test_trimming_the_inbox_drops_only_entries_applied_before_the_oldest_pending(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    orch = Orchestrator(RunService(stack.redis, stack.keys, stack.settings), claim_idle_s=0)
    await orch.ensure_groups()
    inbox = stack.keys.inbox(0)
    wake = InboxMessage("wake", "run-x", 1).encode()
    for _ in range(400):
        await stack.redis.xadd(inbox, {"d": wake})
    reply: Any = await stack.redis.xreadgroup(ORCH_GROUP, orch.consumer, {inbox: ">"}, count=300)
    delivered = [entry_id for entry_id, _ in reply[0][1]]
    # The first 100 and the last 150 delivered are acknowledged; 100..149 stay pending;
    # 300..399 were never delivered.
    await stack.redis.xack(inbox, ORCH_GROUP, *delivered[:100], *delivered[150:])
    assert await orch.trim_inbox(0) == 0, "entries applied less than a minute ago are kept"
    assert await orch.trim_inbox(0, keep_ms=0) > 0
    rows: Any = await stack.redis.xrange(inbox)
    ids = [entry_id for entry_id, _ in rows]
    assert set(delivered[100:150]) <= set(ids), "a pending entry was trimmed"
    rows = await stack.redis.xrevrange(inbox, count=100)
    undelivered = [entry_id for entry_id, _ in rows]
    assert ids[-100:] == undelivered[::-1] and len(undelivered) == 100
    assert len(ids) < 400
    # Everything pending is applied: what was delivered goes too (whole stream nodes).
    await stack.redis.xack(inbox, ORCH_GROUP, *delivered[100:150])
    await orch.trim_inbox(0, keep_ms=0)
    rows = await stack.redis.xrange(inbox)
    ids = [entry_id for entry_id, _ in rows]
    assert ids[-100:] == undelivered[::-1], "an entry not yet delivered was trimmed"
    assert len(ids) <= 200


async def test_trimming_a_long_inbox_takes_every_entry_applied_over_a_minute_ago(
    make_stack: StackFactory,
) -> None:
    """Redis evicts at most 100 stream nodes (10,000 entries) per approximate ``XTRIM``:
    one call per tick left a busy inbox growing (201 MB at 100,000 finished runs)."""
    stack = await make_stack()
    orch = Orchestrator(RunService(stack.redis, stack.keys, stack.settings), claim_idle_s=0)
    await orch.ensure_groups()
    inbox = stack.keys.inbox(0)
    wake = InboxMessage("wake", "run-x", 1).encode()
    old_ms = now_ms() - 10 * INBOX_KEEP_MS
    async with stack.redis.pipeline(transaction=False) as pipe:
        for seq in range(1, 25_001):
            pipe.xadd(inbox, {"d": wake}, id=f"{old_ms}-{seq}")
        await pipe.execute()
    recent = [await stack.redis.xadd(inbox, {"d": wake}) for _ in range(50)]
    await stack.redis.xgroup_setid(inbox, ORCH_GROUP, "$")  # all delivered, none pending
    trimmed = await orch.trim_inbox(0)
    left: Any = await stack.redis.xrange(inbox)
    assert trimmed + len(left) == 25_050
    assert [entry_id for entry_id, _ in left[-50:]] == recent, "a recent entry was trimmed"
    # Whole stream nodes go: the node holding the last old entries may stay.
    assert len(left) <= 50 + 100, f"{len(left) - 50} entries over a minute old were kept"


async def test_an_unexpected_error_does_not_end_the_inbox_loop(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stack = await make_stack()
    run, shard, orch = await _started(stack)
    process = orch.process
    calls = 0

    async def broken_once(shard: int, entries: Entries) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug")
        await process(shard, entries)

    monkeypatch.setattr(orch, "process", broken_once)
    stop = asyncio.Event()
    loop = asyncio.create_task(orch._consume(shard, stop))
    try:
        await until(lambda: _pending_is(stack, shard, 1), "the failed entry to stay pending")
        await stack.redis.xadd(
            stack.keys.inbox(shard), {"d": InboxMessage("wake", run.run_id, 2).encode()}
        )
        await until(lambda: _nothing_unread(stack, shard), "the loop to read on")
    finally:
        stop.set()
        await loop
    await orch.claim_abandoned(shard)  # the failed entry is delivered again: applied now
    assert await _completed(stack, run.run_id)
    assert "applying inbox entries failed" in caplog.text


async def _completed(stack: Stack, run_id: str) -> bool:
    return (await stack.service.get(run_id)).nodes["only"].status == NodeStatus.COMPLETED


async def _pending_is(stack: Stack, shard: int, count: int) -> bool:
    return await _pending(stack, shard) == count


async def _nothing_unread(stack: Stack, shard: int) -> bool:
    inbox = stack.keys.inbox(shard)
    groups: Any = await stack.redis.xinfo_groups(inbox)
    (group,) = [g for g in groups if g["name"] in (ORCH_GROUP, ORCH_GROUP.encode())]
    rows: Any = await stack.redis.xrange(inbox, min=b"(" + group["last-delivered-id"], count=1)
    return not rows
