"""Refused unauthenticated requests, counted per address and minute instead of audited one by one.

A stranger without a valid key or token is not a user whose actions need a trail, and a
flood of them (110,000 in 97 s in a test) would push every admin entry out of the trimmed
audit stream and grow the audit file without bound.  So each refusal only increments a
counter in a per-minute hash: at most ``max_addresses`` addresses per minute (the rest are
counted under ``others``), each hash kept ``retention_s``.  Memory is bounded whatever
arrives: minutes kept x (addresses + 2) small fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from orchestrator.errors import Unavailable
from orchestrator.keys import Keys
from orchestrator.scripts import Script

TOTAL = "(total)"
OTHERS = "(others)"
MAX_MINUTES = 24 * 60

# KEYS[1] the minute's hash; ARGV[1] address, ARGV[2] max addresses, ARGV[3] TTL s.
# One script so the "is there room for one more address" check and the increment agree.
_HIT_LUA = """
local field = ARGV[1]
if redis.call('HEXISTS', KEYS[1], field) == 0 then
  local addresses = redis.call('HLEN', KEYS[1]) - redis.call('HEXISTS', KEYS[1], '(total)')
    - redis.call('HEXISTS', KEYS[1], '(others)')
  if addresses >= tonumber(ARGV[2]) then field = '(others)' end
end
redis.call('HINCRBY', KEYS[1], field, 1)
redis.call('HINCRBY', KEYS[1], '(total)', 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class StrangerCounter:
    """Counts refused unauthenticated requests per (minute, address) in Redis."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        max_addresses: int = 100,
        retention_s: int = 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.max_addresses = max_addresses
        self.retention_s = retention_s
        self._clock = clock
        self._hit = Script(redis, _HIT_LUA, "strangers.hit")

    async def hit(self, address: str | None) -> None:
        """Count one refusal from ``address``; :class:`Unavailable` if Redis refuses."""
        minute = int(self._clock() // 60)
        try:
            await self._hit(
                keys=[self._keys.audit_strangers(minute)],
                args=[(address or "unknown")[:64], self.max_addresses, self.retention_s],
            )
        except RedisError as exc:
            raise Unavailable(f"audit counters unavailable: {exc}") from None

    async def read(self, minutes: int = 60, top: int = 20) -> list[dict[str, Any]]:
        """The last ``minutes`` minutes that saw refusals, newest first: each minute's total
        and its ``top`` addresses by count (``others`` sums addresses past the cap)."""
        minutes = max(1, min(int(minutes), MAX_MINUTES))
        now = int(self._clock() // 60)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for minute in range(now, now - minutes, -1):
                    pipe.hgetall(self._keys.audit_strangers(minute))
                found = await pipe.execute()
        except RedisError as exc:
            raise Unavailable(f"audit counters unavailable: {exc}") from None
        out: list[dict[str, Any]] = []
        for offset, raw in enumerate(found):
            if not raw:
                continue
            counts = {_text(k): int(v) for k, v in raw.items()}
            total = counts.pop(TOTAL, 0)
            others = counts.pop(OTHERS, 0)
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            others += sum(count for _, count in ranked[top:])
            start = datetime.fromtimestamp((now - offset) * 60, UTC)
            out.append(
                {
                    "minute": start.isoformat().replace("+00:00", "Z"),
                    "total": total,
                    "addresses": [{"address": a, "count": c} for a, c in ranked[:top]],
                    "others": others,
                }
            )
        return out
