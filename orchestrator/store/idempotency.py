"""Idempotency keys: the first start with a key wins, every later one gets its run.

A key's record (``P{idem}:<sha256 of the key>``) holds the run id chosen by the first
caller and a fingerprint of what it asked for.  It is reserved with a short time to
live *before* the run is written (so a concurrent caller with the same key learns the
run id at once and waits for the run), then confirmed for the retention window once
the run exists.  A start that fails releases the reservation; a process that dies
between the two steps leaves a reservation that expires by itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.scripts import Script

# KEYS: 1 record.  ARGV: 1 JSON value, 2 ttl ms.  Returns the existing value or nil.
_RESERVE = """
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

# KEYS: 1 record.  ARGV: 1 run id, 2 new JSON value (or '' to delete), 3 ttl ms.
_SETTLE = """
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cjson.decode(cur)['run'] ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Reservation:
    """What a key holds: the run it stands for and what that start asked for."""

    run_id: str
    fingerprint: str
    done: bool


def digest(key: str) -> str:
    """The sha256 (hex) a key is stored under (keys can be long or contain anything)."""
    return hashlib.sha256(key.encode()).hexdigest()


class IdempotencyStore:
    """Reserve, confirm and release idempotency keys."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._reserve = Script(redis, _RESERVE, "idempotency.reserve")
        self._settle = Script(redis, _SETTLE, "idempotency.settle")

    async def reserve(
        self, key: str, run_id: str, fingerprint: str, *, ttl_ms: int
    ) -> Reservation | None:
        """Reserve ``key`` for ``run_id``: None when it is ours, else the holder's record."""
        value = orjson.dumps({"run": run_id, "fp": fingerprint, "done": False})
        cur = await self._reserve(keys=[self.keys.idempotency(digest(key))], args=[value, ttl_ms])
        return None if cur is None else _decode(cur)

    async def get(self, key: str) -> Reservation | None:
        """The key's record, if any."""
        raw = await self.redis.get(self.keys.idempotency(digest(key)))
        return None if raw is None else _decode(raw)

    async def confirm(self, key: str, run_id: str, fingerprint: str, *, ttl_ms: int) -> bool:
        """Keep the reservation for the retention window now that the run exists."""
        value = orjson.dumps({"run": run_id, "fp": fingerprint, "done": True})
        rec = self.keys.idempotency(digest(key))
        return bool(await self._settle(keys=[rec], args=[run_id, value, ttl_ms]))

    async def release(self, key: str, run_id: str) -> bool:
        """Drop a reservation whose start failed (only if it is still ``run_id``'s)."""
        rec = self.keys.idempotency(digest(key))
        return bool(await self._settle(keys=[rec], args=[run_id, "", 0]))


def _decode(raw: bytes | str) -> Reservation:
    d = orjson.loads(raw)
    return Reservation(run_id=str(d["run"]), fingerprint=str(d["fp"]), done=bool(d["done"]))
