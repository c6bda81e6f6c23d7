"""Per-user rate limits kept in Redis, so they hold across API replicas.

Limits come from ``workflow.security.rate_limiting`` (``create_workflow: 10/min``).
A moving window is used: no more than N hits in *any* window, not N per clock
minute (a fixed window lets 2N through around the boundary).

The ``limits`` library normally opens its own Redis connection from a URL; here it
is handed the caller's connection pool instead, which makes every URL form the
app supports work (passwords, TLS, ``unix://`` sockets) without rewriting URLs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from orchestrator.errors import ConfigError, RateLimited, Unavailable
from orchestrator.keys import Keys
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


class RateLimiter:
    """Counts each user's hits per action in Redis and refuses those over the limit."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, rates: Mapping[str, str]) -> None:
        self.limits = parse_rates(rates)
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=keys.rate_limit_prefix(),
            # Documented pass-through option; the stubs type **options too narrowly.
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
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
