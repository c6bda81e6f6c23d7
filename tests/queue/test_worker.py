"""The worker process in-process on a real Redis: handlers, timeouts, reports, stop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis

from orchestrator import HandlerContext
from orchestrator.errors import ConfigError
from orchestrator.keys import WORKER_GROUP, Keys
from orchestrator.protocol import InboxMessage, Job
from orchestrator.settings import Settings
from orchestrator.store.queue import JobQueue
from orchestrator.store.workers import LiveWorkers
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker
from tests.queue.helpers import eventually, inbox_messages, make_job

TERMINAL = ("succeeded", "failed")


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Event]:
    """Run ``worker`` for the duration of the block, then stop it and wait for it."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def registry_of(**handlers: Callable[..., Any]) -> Registry:
    registry = Registry()
    for name, fn in handlers.items():
        registry.register(name, fn)
    return registry


async def results(redis: aioredis.Redis, keys: Keys, n: int) -> dict[str, InboxMessage]:
    """Wait for ``n`` terminal messages; return them by token."""
    msgs = await eventually(
        lambda: inbox_messages(redis, keys),
        lambda ms: sum(m.type in TERMINAL for m in ms) >= n,
    )
    return {m.token or "": m for m in msgs if m.type in TERMINAL}


def sync_ok(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    return {
        "sum": sum(input["values"]),
        "attempt": ctx.attempt,
        "kind": ctx.kind,
        "thread": threading.current_thread().name,
    }


async def async_ok(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"run": ctx.run_id, "node": ctx.node_id, "p": ctx.params.get("p")}


def returns_none(input: dict[str, Any], ctx: HandlerContext) -> None:
    return None


def raises(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    raise ValueError("bad row 7")


async def raises_empty(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    raise KeyError()


def returns_list(input: dict[str, Any], ctx: HandlerContext) -> Any:
    return [1, 2]


def returns_unserialisable(input: dict[str, Any], ctx: HandlerContext) -> Any:
    return {"when": {1, 2}}


async def slow_async(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    await asyncio.sleep(60)
    return {}


def slow_sync(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    time.sleep(1.5)  # longer than the job's timeout; the thread cannot be stopped
    return {"late": True}


def raises_own_timeout(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    raise TimeoutError("upstream API timed out")


async def test_handlers_sync_and_async_report_their_outcomes(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    registry = registry_of(
        sync_ok=sync_ok,
        async_ok=async_ok,
        returns_none=returns_none,
        raises=raises,
        raises_empty=raises_empty,
        returns_list=returns_list,
        returns_unserialisable=returns_unserialisable,
        raises_own_timeout=raises_own_timeout,
    )
    jobs = {
        "sync_ok": make_job("sync_ok", input={"values": [1, 2, 3]}),
        "async_ok": make_job("async_ok", params={"p": 5}, node="a1"),
        "returns_none": make_job("returns_none"),
        "raises": make_job("raises"),
        "raises_empty": make_job("raises_empty"),
        "returns_list": make_job("returns_list"),
        "returns_unserialisable": make_job("returns_unserialisable"),
        "raises_own_timeout": make_job("raises_own_timeout"),
    }
    worker = Worker(redis_client, keys, settings, registry, concurrency=4, worker_id="w-1")
    async with running(worker):
        for job in jobs.values():
            await queue.enqueue(job)
        got = await results(redis_client, keys, len(jobs))

    def of(name: str) -> InboxMessage:
        return got[jobs[name].token]

    ok = of("sync_ok")
    assert ok.type == "succeeded" and ok.worker == "w-1"
    assert ok.output is not None and ok.output["sum"] == 6 and ok.output["attempt"] == 1
    assert ok.output["thread"].startswith("dagq-handler")  # sync handlers run in threads
    assert of("async_ok").output == {"run": "r1", "node": "a1", "p": 5}
    assert of("returns_none").output == {}
    assert (of("raises").type, of("raises").error) == ("failed", "bad row 7")
    assert of("raises_empty").error == "KeyError"
    assert of("returns_list").error == (
        "handler 'returns_list' returned list, expected a dict or None"
    )
    unserialisable = of("returns_unserialisable").error or ""
    assert unserialisable.startswith(
        "handler 'returns_unserialisable' returned output that is not JSON-serialisable"
    )
    own = of("raises_own_timeout")
    assert own.error == "upstream API timed out" and not own.timed_out
    # Every job was acknowledged and deleted; each got a started message first.
    depths = await queue.depths()
    rows = [row for lanes in depths["handlers"].values() for row in lanes.values()]
    assert all(row["length"] == 0 for row in rows)
    msgs = await inbox_messages(redis_client, keys)
    for job in jobs.values():
        kinds = [m.type for m in msgs if m.token == job.token]
        assert kinds[0] == "started" and len(kinds) == 2


async def test_timeouts_fail_the_attempt_and_the_worker_carries_on(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    registry = registry_of(slow_async=slow_async, slow_sync=slow_sync, sync_ok=sync_ok)
    slow_a = make_job("slow_async", timeout_s=0.2)
    slow_s = make_job("slow_sync", timeout_s=0.3)
    after = make_job("sync_ok", input={"values": [1]})
    worker = Worker(redis_client, keys, settings, registry, concurrency=2)
    async with running(worker):
        await queue.enqueue(slow_a)
        await queue.enqueue(slow_s)
        got = await results(redis_client, keys, 2)
        await queue.enqueue(after)
        got = await results(redis_client, keys, 3)
    assert (got[slow_a.token].type, got[slow_a.token].error) == ("failed", "timed out after 200ms")
    assert got[slow_a.token].timed_out
    assert got[slow_s.token].error == "timed out after 300ms" and got[slow_s.token].timed_out
    assert got[after.token].type == "succeeded"
    # The overrunning thread's late result is ignored: one terminal message per token.
    msgs = await inbox_messages(redis_client, keys)
    assert sum(m.token == slow_s.token and m.type in TERMINAL for m in msgs) == 1


async def test_never_more_in_flight_than_concurrency(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    current = 0
    peak = 0

    async def tracked(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        nonlocal current, peak
        current += 1
        peak = max(peak, current)
        await asyncio.sleep(0.01)
        current -= 1
        return {}

    worker = Worker(redis_client, keys, settings, registry_of(tracked=tracked), concurrency=3)
    async with running(worker):
        for i in range(30):
            await queue.enqueue(make_job("tracked", node=f"n{i}"))
        await results(redis_client, keys, 30)
    assert 1 <= peak <= 3
    assert worker.processed == 30


async def test_graceful_stop_finishes_short_jobs_and_hands_back_long_ones(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    release = asyncio.Event()

    async def finishes_on_release(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        await release.wait()
        return {"done": True}

    registry = registry_of(finishes=finishes_on_release, blocks=slow_async)
    worker = Worker(
        redis_client, keys, settings, registry, concurrency=4, grace_s=0.5, worker_id="leaving"
    )
    short, long = make_job("finishes"), make_job("blocks")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await queue.enqueue(short)
    await queue.enqueue(long)
    await eventually(lambda: inbox_messages(redis_client, keys), lambda ms: len(ms) == 2)
    offered = await LiveWorkers(redis_client, keys, settings).handlers_offered()
    assert offered["blocks"] == ["leaving"]
    stop.set()
    release.set()  # the short job finishes within the grace period
    await asyncio.wait_for(task, timeout=30)

    got = await results(redis_client, keys, 1)
    assert got[short.token].output == {"done": True}
    assert long.token not in got
    # The long job is back on its stream, not leased to anyone, and readable at once.
    stream = keys.queue(0, "normal", "blocks")
    assert int((await redis_client.xpending(stream, WORKER_GROUP))["pending"]) == 0
    [again] = await queue.read(["blocks"], "next", 1)
    assert again.job == long
    assert await LiveWorkers(redis_client, keys, settings).live_workers() == []


async def test_heartbeat_announces_the_worker_and_its_handlers(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    directory = LiveWorkers(redis_client, keys, settings)
    worker = Worker(
        redis_client,
        keys,
        settings,
        registry_of(b=sync_ok, a=async_ok),
        worker_id="hb-1",
        concurrency=5,
    )
    async with running(worker):
        live = await eventually(directory.live_workers, bool)
        assert [w.worker_id for w in live] == ["hb-1"]
        assert live[0].handlers == ("a", "b") and live[0].concurrency == 5
        assert await directory.handlers_offered() == {"a": ["hb-1"], "b": ["hb-1"]}
    assert await directory.live_workers() == []


async def test_silent_workers_drop_out_of_the_directory(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    directory = LiveWorkers(redis_client, keys, settings)
    await directory.announce("ghost", ["h"], "host", 1, 2)
    [ghost] = await directory.live_workers()
    assert ghost.host == "host" and ghost.to_dict()["handlers"] == ["h"]
    later = ghost.last_seen_ms + directory.ttl_ms + 1
    assert await directory.live_workers(now=later) == []
    assert await redis_client.zcard(keys.workers()) == 0


async def test_a_worker_takes_over_a_dead_consumers_job(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    job = make_job("sync_ok", input={"values": [4]})
    await queue.enqueue(job)
    [ghost] = await queue.read(["sync_ok"], "crashed-worker", 1)
    worker = Worker(redis_client, keys, settings, registry_of(sync_ok=sync_ok))
    async with running(worker):
        got = await results(redis_client, keys, 1)
    output = got[job.token].output
    assert output is not None and output["sum"] == 4
    assert int((await redis_client.xpending(ghost.stream, WORKER_GROUP))["pending"]) == 0


async def test_inbox_only_workers_leave_other_workers_jobs_alone(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    stuck, fresh = (
        make_job("sync_ok", node="stuck"),
        make_job("sync_ok", node="fresh", input={"values": []}),
    )
    await queue.enqueue(stuck)
    await queue.read(["sync_ok"], "crashed-worker", 1)
    worker = Worker(redis_client, keys, settings, registry_of(sync_ok=sync_ok), inbox_only=True)
    async with running(worker):
        await queue.enqueue(fresh)
        got = await results(redis_client, keys, 1)
        # Well past the visibility timeout, the stuck job is still the dead worker's.
        rows = await eventually(
            lambda: redis_client.xpending_range(
                keys.queue(0, "normal", "sync_ok"), WORKER_GROUP, "-", "+", 10, idle=400
            ),
            bool,
        )
    assert list(got) == [fresh.token]
    assert [r["consumer"] for r in rows] == [b"crashed-worker"]


def test_bad_worker_configuration_is_refused(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    with pytest.raises(ConfigError, match="at least one handler"):
        Worker(redis_client, keys, settings, Registry())
    with pytest.raises(ConfigError, match="concurrency"):
        Worker(redis_client, keys, settings, registry_of(a=sync_ok), concurrency=0)
    with pytest.raises(ConfigError, match="invalid worker id"):
        Worker(redis_client, keys, settings, registry_of(a=sync_ok), worker_id="a b")


async def test_a_job_for_a_handler_this_worker_lacks_fails_clearly(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    # A job whose payload names another handler than its stream (an engine bug).
    job = Job(run="r1", node="n", attempt=1, token="t", handler="ghost")
    await redis_client.xadd(keys.queue(0, "normal", "sync_ok"), {"d": job.encode()})
    worker = Worker(redis_client, keys, settings, registry_of(sync_ok=sync_ok), worker_id="w9")
    async with running(worker):
        got = await results(redis_client, keys, 1)
    assert got["t"].error == "no handler named 'ghost' on worker w9"


async def test_a_long_job_keeps_its_lease_while_another_worker_watches(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def long_job(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        started.set()
        await release.wait()
        return {"by": ctx.worker_id}

    holder = Worker(redis_client, keys, settings, registry_of(long=long_job), worker_id="holder")
    job = make_job("long")
    async with running(holder):
        await queue.enqueue(job)
        await asyncio.wait_for(started.wait(), timeout=10)
        watcher = Worker(
            redis_client, keys, settings, registry_of(long=long_job), worker_id="watcher"
        )
        async with running(watcher):
            # Wait until the delivery has been extended well past the visibility
            # timeout (0.2s) while the watcher kept sweeping for idle entries.
            stream = keys.queue(0, "normal", "long")
            await eventually(lambda: _extended_for(redis_client, stream, 1000), bool, within_s=20)
            release.set()
            got = await results(redis_client, keys, 1)
    assert got[job.token].output == {"by": "holder"}
    msgs = [m for m in await inbox_messages(redis_client, keys) if m.token == job.token]
    assert [m.worker for m in msgs] == ["holder", "holder"]  # started + succeeded, no theft


async def _extended_for(redis: aioredis.Redis, stream: str, ms: int) -> bool:
    """The delivery is still the holder's, first delivered more than ``ms`` ago."""
    rows = await redis.xpending_range(stream, WORKER_GROUP, "-", "+", 1)
    if not rows:
        return False
    row = rows[0]
    entry_id = row["message_id"]
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    age_ms = int(time.time() * 1000) - int(text.split("-")[0])
    return row["consumer"] == b"holder" and row["times_delivered"] == 1 and age_ms > ms


async def test_a_result_redis_refuses_does_not_hold_up_the_worker(
    redis_client: aioredis.Redis,
    keys: Keys,
    settings: Settings,
    queue: JobQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = make_job("sync_ok", input={"values": [2]})
    await redis_client.set(keys.inbox(0), "not a stream")  # every inbox write fails
    worker = Worker(redis_client, keys, settings, registry_of(sync_ok=sync_ok))
    with caplog.at_level("ERROR", logger="dagq.worker"):
        async with running(worker):
            await queue.enqueue(job)
            await eventually(
                lambda: _async(any("refused the result" in r.message for r in caplog.records)),
                bool,
            )
            await redis_client.delete(keys.inbox(0))
            # The job stayed leased, so it is redelivered and this time reported.
            got = await results(redis_client, keys, 1)
    assert got[job.token].type == "succeeded"
    assert await redis_client.xlen(keys.queue(0, "normal", "sync_ok")) == 0


async def _async(value: bool) -> bool:
    return value


async def test_a_result_acked_during_a_heartbeat_is_not_a_lost_lease(
    redis_client: aioredis.Redis,
    keys: Keys,
    settings: Settings,
    queue: JobQueue,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The heartbeat's lease extension and the report of a result race on an idle machine:
    an entry acked while the extension was on its way is done, not lost (issue 12)."""
    worker = Worker(redis_client, keys, settings, registry_of(h=sync_ok), worker_id="w-race")
    await queue.ensure_groups(["h"])
    await queue.enqueue(make_job("h"))
    await queue.enqueue(make_job("h"))
    finished, stolen = await queue.read(["h"], "w-race", 2)
    worker._held.update((finished, stolen))
    extend = worker.queue.extend

    async def report_meanwhile(held: Any, consumer: str) -> Any:
        # The reporter acks `finished` between the heartbeat's snapshot and its extension;
        # another worker reclaims `stolen` (a real lost lease).
        worker._reporting.add(finished)
        await worker.queue.complete_many([(finished, worker._failed(finished, "done"))])
        await redis_client.xclaim(stolen.stream, WORKER_GROUP, "w-other", 0, [stolen.entry_id])
        return await extend(held, consumer)

    monkeypatch.setattr(worker.queue, "extend", report_meanwhile)
    with caplog.at_level(logging.WARNING, logger="dagq.worker"):
        await worker.beat()
    lost = [r.getMessage() for r in caplog.records if "lost the lease" in r.getMessage()]
    assert lost == [f"lost the lease of {stolen.job.run}/{stolen.job.node} attempt 1"]
    assert finished in worker._held and stolen not in worker._held  # the reporter settles it
