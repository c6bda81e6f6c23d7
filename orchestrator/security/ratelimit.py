"""Per-user rate limits and sign-in throttling kept in Redis, so they hold across replicas
and restarts.

Limits come from ``workflow.security.rate_limiting`` (``create_workflow: 10/min``).
A moving window is used: no more than N hits in *any* window, not N per clock
minute (a fixed window lets 2N through around the boundary).

The ``limits`` library normally opens its own Redis connection from a URL; here it
is handed the caller's client instead (:class:`_SharedClientStorage`), which makes every
URL form the app supports work (passwords, TLS, ``unix://`` sockets, ``redis+cluster://``)
without rewriting URLs.  Its scripts touch one key each, so they fit a cluster.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from orchestrator.errors import ConfigError, RateLimited, Unavailable
from orchestrator.keys import Keys
from orchestrator.scripts import Script
from orchestrator.settings import Settings, rate_per_window


def parse_rates(rates: Mapping[str, str]) -> dict[str, RateLimitItem]:
    """``{"create_workflow": "10/min"}`` to limits items; :class:`ConfigError` on a bad rate."""
    items: dict[str, RateLimitItem] = {}
    for action, rate in rates.items():
        try:
            count, window_s = rate_per_window(str(rate))
        except ValueError:
            raise ConfigError(
                f"rate limit for {action!r} must look like 10/min, got {rate!r}"
            ) from None
        if count < 1:
            raise ConfigError(f"rate limit for {action!r} must allow at least 1 request")
        items[action] = RateLimitItemPerSecond(count, window_s)
    return items


class _SharedClientStorage(RedisStorage):
    """limits' Redis storage on a client dagq already holds (one server or a cluster)."""

    def __init__(self, client: aioredis.Redis, key_prefix: str) -> None:
        self._client = client
        super().__init__("async+redis://", implementation="redispy", key_prefix=key_prefix)

    def configure_bridge(self) -> None:
        """Point the redis-py bridge at the shared client (the hook limits' own cluster
        storage overrides too)."""
        client = self._client
        bridge: Any = self.bridge
        bridge.storage = client
        bridge.connection_getter = lambda _readonly: client


class RateLimiter:
    """Counts each user's hits per action in Redis and refuses those over the limit."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, rates: Mapping[str, str]) -> None:
        self.limits = parse_rates(rates)
        storage = _SharedClientStorage(redis, keys.rate_limit_prefix())
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, redis: aioredis.Redis, keys: Keys, settings: Settings) -> RateLimiter:
        """A limiter with the configured ``workflow.security.rate_limiting``."""
        return cls(redis, keys, settings.workflow.security.rate_limiting)

    async def hit(self, user: str, action: str) -> None:
        """Count one ``action`` by ``user``; :class:`RateLimited` (with ``retry_after_s``) if over.

        Actions without a configured limit are unlimited. A refused hit is not counted.
        """
        item = self.limits.get(action)
        if item is None:
            return
        try:
            if await self._limiter.hit(item, user, action):
                return
            stats = await self._limiter.get_window_stats(item, user, action)
        except RedisError as exc:
            raise Unavailable(f"rate limiter unavailable: {exc}") from None
        # reset_time is when the oldest hit in the window leaves it and a slot frees up.
        retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"rate limit for {action} exceeded: {item.amount} per {item.get_expiry()} s; "
            f"retry in {retry_after_s} s",
            retry_after_s=retry_after_s,
            details={"action": action, "limit": item.amount, "windowS": item.get_expiry()},
        )

    async def reset(self, user: str, action: str) -> None:
        """Forget ``user``'s hits for ``action`` (admin relief, tests)."""
        item = self.limits.get(action)
        if item is not None:
            await self._limiter.clear(item, user, action)


# KEYS[1] the user name's window, KEYS[2] the address's (one hash tag); ARGV[1] now ms,
# ARGV[2] window ms, ARGV[3] max per user, ARGV[4] max per address, ARGV[5] attempt id.
# Checking and counting in one step means parallel attempts cannot all slip past the check:
# each attempt takes a place in both windows before its password is checked.
_RESERVE_LUA = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[5])
  redis.call('PEXPIRE', key, window)
end
return 0
"""


class LoginThrottle:
    """Failed sign-ins per user name and per client address, in Redis (sliding windows).

    Both count: per user stops guessing one account's password from many addresses, per
    address stops one address trying many accounts (password spraying).  An attempt takes a
    place in both windows before its password is checked (:meth:`reserve`); a successful one
    gives its places back (:meth:`succeeded`), so only failures accumulate.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        max_user_failures: int = 5,
        max_address_failures: int = 10,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if min(max_user_failures, max_address_failures) < 1 or window_s <= 0:
            raise ConfigError("sign-in throttling needs limits of at least 1 and a window")
        self._redis = redis
        self._keys = keys
        self.max_user_failures = max_user_failures
        self.max_address_failures = max_address_failures
        self.window_s = window_s
        self._clock = clock
        self._reserve = Script(redis, _RESERVE_LUA, "ratelimit.reserve")

    def _pair(self, username: str, address: str) -> list[str]:
        name = username.strip().lower()[:128].encode()
        return [
            self._keys.login_user(hashlib.sha256(name).hexdigest()),
            self._keys.login_address(address[:64] or "unknown"),
        ]

    async def reserve(self, username: str, address: str) -> str:
        """Count one attempt; returns its id, or raises :class:`RateLimited` (``retry_after_s``)
        when the user name or the address has used up its failures."""
        attempt = secrets.token_hex(8)
        try:
            wait_ms = await self._reserve(
                keys=self._pair(username, address),
                args=[
                    int(self._clock() * 1000),
                    int(self.window_s * 1000),
                    self.max_user_failures,
                    self.max_address_failures,
                    attempt,
                ],
            )
        except RedisError as exc:
            raise Unavailable(f"sign-in throttling unavailable: {exc}") from None
        if int(wait_ms) > 0:
            retry_after_s = max(1, math.ceil(int(wait_ms) / 1000))
            raise RateLimited(
                f"Too many failed sign-in attempts. Try again in {retry_after_s} s.",
                retry_after_s=retry_after_s,
            )
        return attempt

    async def succeeded(self, username: str, address: str, attempt: str) -> None:
        """Give back the places of a successful attempt."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in self._pair(username, address):
                    pipe.zrem(key, attempt)
                await pipe.execute()
        except RedisError:
            pass  # the places expire with the window; a success must not fail on this
