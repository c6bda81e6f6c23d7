"""A result that cannot be reported never stalls its job or the worker (real Redis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from orchestrator import HandlerContext
from orchestrator.keys import Keys
from orchestrator.protocol import InboxMessage
from orchestrator.settings import Settings
from orchestrator.store.queue import Delivery, JobQueue
from orchestrator.worker.registry import HandlerEntry
from orchestrator.worker.worker import Worker
from tests.queue.helpers import eventually, inbox_messages, make_job
from tests.queue.test_worker import TERMINAL, registry_of, results, running


def echo(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    return {"node": ctx.node_id}


def unserialisable(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    return {"when": object()}


class CodecBroke(InboxMessage):
    """A result whose encoding raises something other than a JSON error."""

    def encode(self) -> bytes:
        raise RuntimeError("codec broke")


class PoisonedOutcome(Worker):
    """Node ``poison``'s result cannot be encoded at the reporting step."""

    def _outcome(self, d: Delivery, entry: HandlerEntry, result: Any) -> InboxMessage:
        m = super()._outcome(d, entry, result)
        if d.job.node != "poison":
            return m
        return CodecBroke(m.type, m.run, m.at_ms, m.node, m.token, m.output, worker=m.worker)


class BrokenSend(Worker):
    """Sending anything about node ``poison`` raises (a bug in the reporting path)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        real = self.queue.complete_many

        async def complete_many(
            items: Sequence[tuple[Delivery, InboxMessage]], logs: Sequence[tuple[str, bytes]] = ()
        ) -> None:
            if any(d.job.node == "poison" for d, _ in items):
                raise ValueError("reporting bug")
            await real(items, logs)

        self.queue.complete_many = complete_many  # type: ignore[method-assign]


class CrashingReporter(Worker):
    """The reporter loop itself dies the first time it sends (a bug outside ``_send``)."""

    crashed = 0

    async def _send(
        self, batch: list[tuple[Delivery, InboxMessage]]
    ) -> list[tuple[Delivery, InboxMessage]]:
        if self.crashed == 0:
            self.crashed += 1
            raise KeyError("reporter bug")
        return await super()._send(batch)


async def test_an_unencodable_result_fails_its_attempt_and_the_next_job_runs(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    registry = registry_of(unserialisable=unserialisable, echo=echo)
    bad, after = make_job("unserialisable"), make_job("echo", node="after")
    worker = Worker(redis_client, keys, settings, registry, concurrency=1)
    async with running(worker):
        await queue.enqueue(bad)
        await queue.enqueue(after)
        got = await results(redis_client, keys, 2)
    assert got[bad.token].type == "failed"
    assert "not JSON-serialisable" in (got[bad.token].error or "")
    assert got[after.token].output == {"node": "after"}


async def test_a_result_whose_encoding_raises_is_reported_as_a_failed_attempt(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    registry = registry_of(echo=echo)
    poison, after = make_job("echo", node="poison"), make_job("echo", node="after")
    worker = PoisonedOutcome(redis_client, keys, settings, registry, concurrency=1)
    async with running(worker):
        await queue.enqueue(poison)
        await queue.enqueue(after)
        got = await results(redis_client, keys, 2)
    failed = got[poison.token]
    assert failed.type == "failed"
    assert failed.error == "result is not JSON-serialisable: RuntimeError: codec broke"
    assert got[after.token].output == {"node": "after"}
    depths = await queue.depths()
    assert all(
        row["length"] == 0 for lanes in depths["handlers"].values() for row in lanes.values()
    )


async def test_a_result_that_cannot_be_sent_at_all_releases_its_job_to_the_dead_letters(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    registry = registry_of(echo=echo)
    poison, after = make_job("echo", node="poison"), make_job("echo", node="after")
    worker = BrokenSend(redis_client, keys, settings, registry, concurrency=1)
    async with running(worker):
        await queue.enqueue(poison)
        await queue.enqueue(after)
        got = await results(redis_client, keys, 1)
        assert got[after.token].output == {"node": "after"}
        # Its lease is not extended: reclaimed, run again, and after max_deliveries
        # dead-lettered, never held forever.
        letters = await eventually(queue.dead_letters, lambda x: len(x) == 1)
    assert letters[0].job == poison
    assert letters[0].deliveries == settings.queue.max_deliveries
    msgs = await inbox_messages(redis_client, keys)
    assert not [m for m in msgs if m.token == poison.token and m.type in TERMINAL]


async def test_a_crashed_reporter_restarts_and_its_batch_is_redelivered(
    redis_client: aioredis.Redis, keys: Keys, settings: Settings, queue: JobQueue
) -> None:
    registry = registry_of(echo=echo)
    first, after = make_job("echo", node="first"), make_job("echo", node="after")
    worker = CrashingReporter(redis_client, keys, settings, registry, concurrency=1)
    async with running(worker):
        await queue.enqueue(first)
        await eventually(lambda: _async(worker.crashed), lambda n: n == 1)
        await queue.enqueue(after)
        got = await results(redis_client, keys, 2)
    assert got[first.token].output == {"node": "first"}  # its second delivery
    assert got[after.token].output == {"node": "after"}
    started = [m for m in await inbox_messages(redis_client, keys) if m.token == first.token]
    assert [m.type for m in started].count("started") == 2


async def _async(value: int) -> int:
    return value
