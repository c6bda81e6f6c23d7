"""Timers: due entries are promoted to their stream exactly once, and only inside their shard."""

from __future__ import annotations

import asyncio

import orjson
import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.protocol import InboxMessage, timer_entry
from orchestrator.store.timers import Timers
from tests.queue.helpers import eventually, inbox_messages, make_job


async def test_only_due_entries_are_promoted(redis_client: aioredis.Redis, keys: Keys) -> None:
    timers = Timers(redis_client, keys)
    job = make_job("h")
    stream = keys.queue(0, "normal", "h")
    wake = InboxMessage(type="timer", run="r1", at_ms=5, node="delay1")
    await timers.schedule(0, 1_000, timer_entry("job", stream, job.encode(), "u1"))
    await timers.schedule(0, 2_000, timer_entry("inbox", keys.inbox(0), wake.encode(), "u2"))
    assert await timers.next_due_ms(0) == 1_000

    assert await timers.promote(0, now=999) == 0
    assert await timers.promote(0, now=1_000) == 1
    assert await timers.next_due_ms(0) == 2_000
    rows = await redis_client.xrange(stream) or []
    assert [fields[b"d"] for _, fields in rows if fields] == [job.encode()]
    assert await timers.promote(0, now=5_000) == 1
    assert await inbox_messages(redis_client, keys) == [wake]
    assert await timers.next_due_ms(0) is None


async def test_concurrent_promoters_deliver_each_entry_exactly_once(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    timers = Timers(redis_client, keys)
    stream = keys.queue(0, "high", "h")
    async with redis_client.pipeline(transaction=False) as pipe:
        for i in range(300):
            # Identical payloads stay distinct through the uid.
            timers.schedule_in(pipe, 0, 100 + i, timer_entry("job", stream, b'{"same":1}', f"u{i}"))
        await pipe.execute()
    moved = await asyncio.gather(*(timers.promote(0, now=10_000, limit=40) for _ in range(12)))
    assert sum(moved) == 300
    assert await redis_client.xlen(stream) == 300
    assert await redis_client.zcard(keys.timers(0)) == 0


async def test_entries_cannot_write_outside_their_shard_or_kind(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    keys = Keys(prefix=key_prefix, shards=2)
    timers = Timers(redis_client, keys)
    bad = [
        timer_entry("job", keys.queue(1, "high", "h"), b"{}", "other-shard"),
        timer_entry("job", keys.inbox(0), b"{}", "job-into-inbox"),
        timer_entry("inbox", keys.queue(0, "high", "h"), b"{}", "inbox-into-queue"),
        timer_entry("job", "elsewhere", b"{}", "no-tag"),
        b"not json",
        orjson.dumps({"k": "job", "to": keys.queue(0, "low", "h")}),  # no payload
    ]
    for i, entry in enumerate(bad):
        await timers.schedule(0, i, entry)
    good = timer_entry("job", keys.queue(0, "low", "h"), b"{}", "ok")
    await timers.schedule(0, 50, good)

    assert await timers.promote(0, now=100) == 1
    assert await redis_client.zcard(keys.timers(0)) == 0  # bad ones are dropped
    assert await redis_client.exists(keys.queue(1, "high", "h"), "elsewhere") == 0
    assert await redis_client.xlen(keys.queue(0, "low", "h")) == 1
    assert not await redis_client.exists(keys.queue(0, "high", "h"))
    assert await redis_client.type(keys.inbox(0)) == b"none"


async def test_promote_all_covers_every_shard(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    keys = Keys(prefix=key_prefix, shards=3)
    timers = Timers(redis_client, keys)
    for shard in keys.all_shards():
        await timers.schedule(shard, 1, timer_entry("inbox", keys.inbox(shard), b"{}", "u"))
    assert await timers.promote_all(now=2) == 3


async def test_the_promoter_loop_delivers_and_stops(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    timers = Timers(redis_client, keys)
    stop = asyncio.Event()
    loop = asyncio.create_task(timers.run(stop, max_sleep_s=0.05))
    stream = keys.queue(0, "normal", "h")
    await timers.schedule(0, 0, timer_entry("job", stream, b"{}", "now"))
    await eventually(lambda: redis_client.xlen(stream), lambda n: n == 1)
    stop.set()
    await asyncio.wait_for(loop, timeout=10)
