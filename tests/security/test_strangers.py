"""Refused strangers are counted per minute and address, in bounded memory (real Redis)."""

from __future__ import annotations

import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.security.strangers import StrangerCounter


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_counts_per_minute_and_address(redis_client: aioredis.Redis, keys: Keys) -> None:
    clock = Clock()
    counter = StrangerCounter(redis_client, keys, clock=clock)
    for _ in range(3):
        await counter.hit("10.0.0.1")
    await counter.hit("10.0.0.2")
    clock.now += 60
    await counter.hit(None)
    newest, older = await counter.read(minutes=5)
    assert (newest["total"], newest["addresses"]) == (1, [{"address": "unknown", "count": 1}])
    assert older["total"] == 4 and older["others"] == 0
    assert older["addresses"] == [
        {"address": "10.0.0.1", "count": 3},
        {"address": "10.0.0.2", "count": 1},
    ]
    assert older["minute"].endswith(":00Z") and newest["minute"] > older["minute"]


async def test_memory_is_bounded_whatever_arrives(redis_client: aioredis.Redis, keys: Keys) -> None:
    clock = Clock()
    counter = StrangerCounter(redis_client, keys, max_addresses=3, retention_s=120, clock=clock)
    for n in range(50):
        await counter.hit(f"10.0.1.{n}")
    key = keys.audit_strangers(int(clock.now // 60))
    assert await redis_client.hlen(key) == 3 + 2  # three addresses, (others), (total)
    assert 0 < await redis_client.ttl(key) <= 120
    [minute] = await counter.read()
    assert minute["total"] == 50 and minute["others"] == 47
    assert sum(a["count"] for a in minute["addresses"]) == 3
    # An address already counted keeps its own field when the minute is full.
    await counter.hit("10.0.1.0")
    [minute] = await counter.read(top=1)
    assert minute["addresses"] == [{"address": "10.0.1.0", "count": 2}]
    assert minute["others"] == 49
