"""Per-user rate limits in a real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from orchestrator.errors import ConfigError, RateLimited
from orchestrator.keys import Keys
from orchestrator.security.ratelimit import LoginThrottle, RateLimiter
from orchestrator.settings import Settings
from orchestrator.store.connection import make_client

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
    other_client = make_client(redis_url, decode_responses=True)
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


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _fail(throttle: LoginThrottle, user: str, address: str) -> None:
    await throttle.reserve(user, address)  # a failed attempt keeps its place


async def test_sign_in_failures_are_throttled_per_user_from_any_address(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    clock = Clock()
    throttle = LoginThrottle(redis_client, keys, max_user_failures=3, window_s=300, clock=clock)
    for n in range(3):
        await _fail(throttle, "Alice", f"10.0.0.{n}")
    with pytest.raises(RateLimited) as refused:
        await throttle.reserve(" alice ", "10.9.9.9")  # the same name, however typed
    assert refused.value.retry_after_s == 300
    assert refused.value.message == "Too many failed sign-in attempts. Try again in 300 s."
    await throttle.reserve("bob", "10.9.9.9")  # another user is not locked out
    clock.now += 120
    with pytest.raises(RateLimited) as later:
        await throttle.reserve("alice", "10.9.9.9")
    assert later.value.retry_after_s == 180
    clock.now += 181  # the first failure left the window
    await throttle.reserve("alice", "10.9.9.9")


async def test_password_spraying_from_one_address_is_throttled(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    throttle = LoginThrottle(redis_client, keys, max_user_failures=5, max_address_failures=10)
    refused = 0
    for n in range(30):
        try:
            await _fail(throttle, f"user{n}", "203.0.113.7")
        except RateLimited:
            refused += 1
    assert refused == 20  # one try per name, but the address used up its ten
    await throttle.reserve("user0", "198.51.100.1")  # other addresses still may try


async def test_a_success_gives_its_places_back_and_state_is_shared(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    # Two throttles over one Redis: two replicas, or one before and after a restart.
    one = LoginThrottle(redis_client, keys, max_user_failures=2, max_address_failures=2)
    two = LoginThrottle(redis_client, keys, max_user_failures=2, max_address_failures=2)
    for _ in range(5):
        attempt = await one.reserve("carol", "10.0.0.1")
        await one.succeeded("carol", "10.0.0.1", attempt)  # successes never accumulate
    await _fail(one, "carol", "10.0.0.1")
    await _fail(two, "carol", "10.0.0.1")
    with pytest.raises(RateLimited):
        await one.reserve("carol", "10.0.0.1")
    with pytest.raises(RateLimited):
        await two.reserve("carol", "10.0.0.1")


async def test_parallel_guesses_cannot_slip_past_the_check(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    throttle = LoginThrottle(redis_client, keys, max_user_failures=5, max_address_failures=50)
    results = await asyncio.gather(
        *(throttle.reserve("dave", f"10.1.0.{n}") for n in range(40)), return_exceptions=True
    )
    assert sum(1 for r in results if isinstance(r, str)) == 5
    assert all(isinstance(r, (str, RateLimited)) for r in results), results


async def test_no_plaintext_user_name_reaches_redis(
    redis_client: aioredis.Redis, keys: Keys, key_prefix: str
) -> None:
    throttle = LoginThrottle(redis_client, keys)
    await _fail(throttle, "hunter2-typed-as-a-name", "10.0.0.1")
    found = [k.decode() async for k in redis_client.scan_iter(f"{key_prefix}*")]
    assert found and not any("hunter2" in k for k in found)
