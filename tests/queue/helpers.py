"""Helpers shared by the queue tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.protocol import InboxMessage, Job

T = TypeVar("T")


def make_job(
    handler: str = "h",
    *,
    node: str = "n",
    run: str = "r1",
    input: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    timeout_s: float = 30.0,
) -> Job:
    """A job with a unique token."""
    return Job(
        run=run,
        node=node,
        attempt=1,
        token=uuid.uuid4().hex,
        handler=handler,
        input=input or {},
        params=params or {},
        timeout_s=timeout_s,
    )


async def inbox_messages(redis: aioredis.Redis, keys: Keys, shard: int = 0) -> list[InboxMessage]:
    """Every message of a shard's inbox, oldest first."""
    rows = await redis.xrange(keys.inbox(shard)) or []
    return [InboxMessage.decode(fields[b"d"]) for _, fields in rows if fields is not None]


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, within_s: float = 10.0
) -> T:
    """Poll ``probe`` until ``ok`` holds (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + within_s
    while True:
        value = await probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s}s; last value: {value!r}")
        await asyncio.sleep(0.02)
