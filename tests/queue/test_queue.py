"""The job queue on a real Redis: lanes, completion, leases, reclaim, dead letters."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from orchestrator.errors import BadRequest
from orchestrator.keys import WORKER_GROUP, Keys
from orchestrator.protocol import InboxMessage
from orchestrator.settings import Settings
from orchestrator.store.queue import Delivery, JobQueue
from tests.queue.helpers import eventually, inbox_messages, make_job


def succeeded(d: Delivery, **output: object) -> InboxMessage:
    return InboxMessage(
        type="succeeded",
        run=d.job.run,
        at_ms=1,
        node=d.job.node,
        token=d.job.token,
        output=dict(output),
        worker="w",
    )


async def pending_count(redis: aioredis.Redis, stream: str) -> int:
    info = await redis.xpending(stream, WORKER_GROUP)
    return int(info["pending"])


async def test_lanes_are_read_high_first_and_count_is_exact(queue: JobQueue) -> None:
    for node, priority in [("low", 1), ("normal", 5), ("high", 9), ("high2", 10), ("low2", 0)]:
        await queue.enqueue(make_job("h", node=node), priority=priority)
    await queue.enqueue(make_job("other", node="other-high"), priority=8)

    first = await queue.read(["h"], "c1", 1)
    assert [d.job.node for d in first] == ["high"]
    rest = await queue.read(["h"], "c1", 10)
    assert [d.job.node for d in rest] == ["high2", "normal", "low", "low2"]
    assert all(d.deliveries == 1 for d in first + rest)
    # Another handler's stream is not read by a consumer that does not offer it.
    assert await queue.read(["h"], "c1", 10) == []
    assert [d.job.node for d in await queue.read(["h", "other"], "c1", 10)] == ["other-high"]


async def test_read_never_returns_more_than_count_across_handlers(queue: JobQueue) -> None:
    for handler in ("a", "b", "c"):
        for i in range(4):
            await queue.enqueue(make_job(handler, node=f"{handler}{i}"), priority=5)
    got = await queue.read(["a", "b", "c"], "c1", 5)
    assert len(got) == 5
    assert len({(d.stream, d.entry_id) for d in got}) == 5
    got += await queue.read(["a", "b", "c"], "c1", 100)
    assert len(got) == 12


async def test_jobs_written_before_the_group_exists_are_delivered(queue: JobQueue) -> None:
    job = make_job("late")
    await queue.enqueue(job)
    await queue.ensure_groups(["late"])
    await queue.ensure_groups(["late"])  # BUSYGROUP is fine
    got = await queue.read(["late"], "c1", 5)
    assert [d.job for d in got] == [job]


async def test_complete_acks_and_posts_the_result_together(
    queue: JobQueue, redis_client: aioredis.Redis, keys: Keys
) -> None:
    for i in range(3):
        await queue.enqueue(make_job("h", node=f"n{i}"))
    got = await queue.read(["h"], "c1", 3)
    await queue.started_many(got, "w")
    await queue.complete(got[0], succeeded(got[0], rows=1))
    await queue.complete_many([(d, succeeded(d)) for d in got[1:]])

    stream = got[0].stream
    assert await pending_count(redis_client, stream) == 0
    assert await redis_client.xlen(stream) == 0  # acknowledged entries are deleted
    msgs = await inbox_messages(redis_client, keys)
    assert [m.type for m in msgs] == ["started"] * 3 + ["succeeded"] * 3
    assert [m.token for m in msgs[3:]] == [d.job.token for d in got]
    assert msgs[3].output == {"rows": 1}
    assert msgs[0].worker == "w"


async def test_complete_never_acks_without_its_result(
    queue: JobQueue, redis_client: aioredis.Redis, keys: Keys
) -> None:
    await queue.enqueue(make_job("h"))
    [d] = await queue.read(["h"], "c1", 1)
    # The inbox write fails (wrong key type): the job must stay leased, not acked.
    await redis_client.set(keys.inbox(0), "not a stream")
    with pytest.raises(aioredis.ResponseError):
        await queue.complete(d, succeeded(d))
    assert await pending_count(redis_client, d.stream) == 1
    await redis_client.delete(keys.inbox(0))
    await queue.complete(d, succeeded(d))
    assert await pending_count(redis_client, d.stream) == 0
    assert len(await inbox_messages(redis_client, keys)) == 1


async def test_complete_is_seen_all_or_nothing_by_other_clients(
    queue: JobQueue, redis_client: aioredis.Redis, keys: Keys
) -> None:
    n = 60
    for i in range(n):
        await queue.enqueue(make_job("h", node=f"n{i}"))
    got = await queue.read(["h"], "c1", n)
    stream = got[0].stream
    done = asyncio.Event()

    async def observe() -> list[int]:
        seen = []
        while not done.is_set():
            async with redis_client.pipeline(transaction=True) as tx:
                tx.xpending(stream, WORKER_GROUP)
                tx.xlen(keys.inbox(0))
                pending, inbox = await tx.execute()
            seen.append(int(pending["pending"]) + int(inbox))
            await asyncio.sleep(0)
        return seen

    watcher = asyncio.create_task(observe())
    for d in got:
        await queue.complete(d, succeeded(d))
    done.set()
    # Every snapshot: each job is either still pending or has its result, never neither.
    assert set(await watcher) <= {n}


async def test_a_dead_consumers_delivery_is_reclaimed_after_the_visibility_timeout(
    queue: JobQueue, redis_client: aioredis.Redis
) -> None:
    job = make_job("h")
    await queue.enqueue(job)
    [first] = await queue.read(["h"], "dead", 1)
    # Not idle long enough yet.
    assert await queue.reclaim("alive", ["h"]) == []
    [again] = await eventually(lambda: queue.reclaim("alive", ["h"]), bool)
    assert again.job == job
    assert again.entry_id == first.entry_id
    assert again.deliveries == 2
    # The first consumer lost its lease: extending tells it so, and does not steal it back.
    assert await queue.extend([first], "dead") == [first]
    assert await queue.extend([again], "alive") == []
    rows = await redis_client.xpending_range(again.stream, WORKER_GROUP, "-", "+", 10)
    assert [r["consumer"] for r in rows] == [b"alive"]


async def test_extend_keeps_a_running_lease(
    queue: JobQueue, redis_client: aioredis.Redis, settings: Settings
) -> None:
    await queue.enqueue(make_job("h"))
    [d] = await queue.read(["h"], "c1", 1)
    vt_ms = settings.queue.visibility_timeout * 1000

    async def idle_ms() -> int:
        rows = await redis_client.xpending_range(d.stream, WORKER_GROUP, "-", "+", 1)
        return int(rows[0]["time_since_delivered"])

    await eventually(idle_ms, lambda ms: ms > vt_ms)
    assert await queue.extend([d], "c1") == []
    assert await idle_ms() < vt_ms
    assert await queue.reclaim("c2", ["h"]) == []


async def test_reclaim_respects_count(queue: JobQueue) -> None:
    for i in range(5):
        await queue.enqueue(make_job("h", node=f"n{i}"))
    await queue.read(["h"], "dead", 5)
    got = await eventually(lambda: queue.reclaim("alive", ["h"], count=2), bool)
    assert len(got) == 2
    rest = await queue.reclaim("alive", ["h"], count=10)
    assert len(rest) == 3


async def test_poison_job_goes_to_the_dead_letter_stream_then_requeue(
    queue: JobQueue, redis_client: aioredis.Redis, settings: Settings
) -> None:
    job = make_job("h")
    await queue.enqueue(job, priority=9)
    await queue.read(["h"], "c0", 1)
    # Two more deliveries by reclaim (max_deliveries is 3), then the dead letter.
    for n in (2, 3):
        [d] = await eventually(lambda n=n: queue.reclaim(f"c{n}", ["h"]), bool)  # type: ignore[misc]
        assert d.deliveries == n
    letters = await eventually(lambda: _reclaim_then_letters(queue), lambda x: len(x) == 1)
    [letter] = letters
    assert letter.job == job
    assert letter.deliveries == settings.queue.max_deliveries
    assert letter.stream == d.stream and letter.original_id == d.entry_id
    assert "3 times" in letter.reason
    assert letter.to_dict()["runId"] == job.run
    assert await redis_client.xlen(d.stream) == 0
    assert await pending_count(redis_client, d.stream) == 0

    assert await queue.requeue_dead([letter.entry_id]) == 1
    assert await queue.dead_letters() == []
    [fresh] = await queue.read(["h"], "c9", 1)
    assert fresh.job == job and fresh.deliveries == 1 and fresh.stream == d.stream
    assert fresh.entry_id != d.entry_id
    assert await queue.requeue_dead([letter.entry_id]) == 0  # already gone


async def _reclaim_then_letters(queue: JobQueue) -> list:  # type: ignore[type-arg]
    await queue.reclaim("janitor", ["h"])
    return await queue.dead_letters()


async def test_purge_fails_the_attempt_once(
    queue: JobQueue, redis_client: aioredis.Redis, keys: Keys
) -> None:
    job = make_job("h")
    await queue.enqueue(job)
    await queue.read(["h"], "c0", 1)
    letters = await eventually(lambda: _reclaim_then_letters(queue), bool, within_s=15)
    ids = [x.entry_id for x in letters]
    results = await asyncio.gather(*(queue.purge_dead(ids) for _ in range(4)))
    assert sorted(results) == [0, 0, 0, 1]
    assert await queue.dead_letters() == []
    failed = [m for m in await inbox_messages(redis_client, keys) if m.type == "failed"]
    assert len(failed) == 1
    assert failed[0].token == job.token and failed[0].node == job.node
    assert failed[0].error == "purged from the dead-letter queue after 3 deliveries"


async def test_malformed_payload_is_dead_lettered_on_read(
    queue: JobQueue, redis_client: aioredis.Redis, keys: Keys
) -> None:
    await queue.ensure_groups(["h"])
    await redis_client.xadd(keys.queue(0, "normal", "h"), {"d": b"{not json"})
    good = make_job("h")
    await queue.enqueue(good)
    got = await queue.read(["h"], "c1", 5)
    assert [d.job for d in got] == [good]
    [letter] = await queue.dead_letters()
    assert letter.job is None and "malformed" in letter.reason
    assert letter.to_dict()["runId"] is None
    # Purging a letter without a job writes no inbox message.
    assert await queue.purge_dead([letter.entry_id]) == 1
    assert await inbox_messages(redis_client, keys) == []


async def test_bad_dead_letter_ids_are_refused(queue: JobQueue) -> None:
    with pytest.raises(BadRequest, match="not a stream entry id"):
        await queue.requeue_dead(["abc"])
    with pytest.raises(BadRequest, match="no shard 3"):
        await queue.purge_dead(["1-0"], shard=3)


async def test_hand_back_makes_a_job_available_at_once(
    queue: JobQueue, redis_client: aioredis.Redis
) -> None:
    job = make_job("h")
    await queue.enqueue(job)
    [d] = await queue.read(["h"], "leaving", 1)
    assert await queue.hand_back([d], "someone-else") == 0  # not theirs to give
    assert await queue.hand_back([d], "leaving") == 1
    assert await pending_count(redis_client, d.stream) == 0
    [again] = await queue.read(["h"], "next", 1)
    assert again.job == job and again.deliveries == 1


async def test_blocking_read_wakes_on_a_new_job(queue: JobQueue) -> None:
    await queue.ensure_groups(["h"])
    reader = asyncio.create_task(queue.read(["h"], "c1", 5, block_ms=20_000))
    await asyncio.sleep(0.05)  # let it block; the result does not depend on this
    job = make_job("h")
    await queue.enqueue(job)
    got = await asyncio.wait_for(reader, timeout=10)
    assert [d.job for d in got] == [job]


async def test_blocking_read_returns_when_woken(queue: JobQueue) -> None:
    wake = asyncio.Event()
    reader = asyncio.create_task(queue.read(["h"], "c1", 5, block_ms=20_000, wake=wake))
    await asyncio.sleep(0.05)
    wake.set()
    assert await asyncio.wait_for(reader, timeout=10) == []


async def test_shards_are_read_without_mixing_and_all_served(
    redis_client: aioredis.Redis, key_prefix: str, settings: Settings
) -> None:
    keys = Keys(prefix=key_prefix, shards=4)
    queue = JobQueue(redis_client, keys, settings)
    jobs = [make_job("h", run=f"run-{i}") for i in range(12)]
    for job in jobs:
        await queue.enqueue(job)
    assert len({keys.shard_of(j.run) for j in jobs}) > 1
    got: list[Delivery] = []
    while batch := await queue.read(["h"], "c1", 5):
        assert len(batch) <= 5
        got += batch
    assert sorted(d.job.token for d in got) == sorted(j.token for j in jobs)
    assert all(d.shard == keys.shard_of(d.job.run) for d in got)
    await queue.complete_many([(d, succeeded(d)) for d in got])
    total = sum([len(await inbox_messages(redis_client, keys, s)) for s in keys.all_shards()])
    assert total == 12


async def test_depths_report_backlog_pending_and_shard_counts(
    queue: JobQueue, keys: Keys, redis_client: aioredis.Redis
) -> None:
    for i in range(3):
        await queue.enqueue(make_job("h", node=f"n{i}"), priority=9)
    await queue.enqueue(make_job("g"), priority=1)
    await queue.read(["h"], "c1", 1)
    await redis_client.zadd(keys.timers(0), {b"x": 1})
    depths = await queue.depths()
    high = depths["handlers"]["h"]["high"]
    assert (high["length"], high["pending"], high["waiting"]) == (3, 1, 2)
    assert depths["handlers"]["g"]["low"]["waiting"] == 1
    assert depths["shards"] == [{"shard": 0, "inbox": 0, "timers": 1, "dlq": 0}]
