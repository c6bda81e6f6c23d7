"""Per-user rate limits in a real Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from orchestrator.errors import ConfigError, RateLimited
from orchestrator.keys import Keys
from orchestrator.security.ratelimit import RateLimiter
from orchestrator.settings import Settings

RATES = {"create_workflow": "10/min", "start_run": "100/min"}


async def test_ten_per_minute_allows_exactly_ten(redis_client: aioredis.Redis, keys: Keys) -> None:
    limiter = RateLimiter(redis_client, keys, RATES)
    for _ in range(10):
        await limiter.hit("alice", "create_workflow")
    with pytest.raises(RateLimited) as caught:
        await limiter.hit("alice", "create_workflow")
    assert 0 < caught.value.retry_after_s <= 60
    assert caught.value.http_status == 429
    assert caught.value.to_dict()["details"]["retryAfter"] == caught.value.retry_after_s
    # Another user and another action have their own budgets.
    await limiter.hit("bob", "create_workflow")
    await limiter.hit("alice", "start_run")


async def test_limits_are_shared_across_replicas(
    redis_client: aioredis.Redis, keys: Keys, redis_url: str
) -> None:
    other_client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        replica_a = RateLimiter(redis_client, keys, {"start_run": "3/min"})
        replica_b = RateLimiter(other_client, keys, {"start_run": "3/min"})
        await replica_a.hit("alice", "start_run")
        await replica_b.hit("alice", "start_run")
        await replica_a.hit("alice", "start_run")
        with pytest.raises(RateLimited):
            await replica_b.hit("alice", "start_run")
        keys_found = [k async for k in redis_client.scan_iter(f"{keys.rate_limit_prefix()}*")]
        assert keys_found  # under the deployment's prefix, not the library's default
    finally:
        await other_client.aclose()


async def test_unknown_actions_are_unlimited(redis_client: aioredis.Redis, keys: Keys) -> None:
    limiter = RateLimiter(redis_client, keys, {"create_workflow": "1/min"})
    for _ in range(50):
        await limiter.hit("alice", "read_workflow")


async def test_reset(redis_client: aioredis.Redis, keys: Keys) -> None:
    limiter = RateLimiter(redis_client, keys, {"create_workflow": "1/hour"})
    await limiter.hit("alice", "create_workflow")
    with pytest.raises(RateLimited):
        await limiter.hit("alice", "create_workflow")
    await limiter.reset("alice", "create_workflow")
    await limiter.hit("alice", "create_workflow")


async def test_from_settings_and_bad_rates(redis_client: aioredis.Redis, keys: Keys) -> None:
    settings = Settings(workflow={"security": {"rate_limiting": RATES}})
    limiter = RateLimiter.from_settings(redis_client, keys, settings)
    assert set(limiter.limits) == {"create_workflow", "start_run"}
    assert limiter.limits["create_workflow"].amount == 10
    with pytest.raises(ConfigError, match="10/min"):
        RateLimiter(redis_client, keys, {"x": "ten per minute"})
    with pytest.raises(ConfigError, match="at least 1"):
        RateLimiter(redis_client, keys, {"x": "0/min"})
