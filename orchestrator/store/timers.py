"""Delayed work: retry backoff and delay nodes, as sorted-set timers in Redis.

Each shard has one sorted set ``timers`` whose members are
:func:`orchestrator.protocol.timer_entry` documents scored by their due time (ms).
When an entry is due, :meth:`Timers.promote` XADDs its payload to its target
stream (a job queue or the inbox) and removes it, in one Lua script, so any
number of processes may promote at once and every entry is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from orchestrator.keys import Keys
from orchestrator.scripts import Script

log = logging.getLogger("dagq.timers")

# Atomic because several processes promote concurrently: reading the due entries,
# XADDing each and ZREMming it must be one step, or two promoters would both
# deliver the same entry.  The target key comes from the entry's data, so the
# script checks it lies in this shard's hash tag and is a job queue (k=job) or the
# shard's inbox (k=inbox): a hostile or corrupt entry cannot write anywhere else.
# Bad entries are removed and counted, not delivered.
PROMOTE_LUA = """
local timers = KEYS[1]
local now = ARGV[1]
local limit = tonumber(ARGV[2])
local tag = ARGV[3]
local queue_prefix = tag .. 'q:'
local inbox = tag .. 'inbox'
local due = redis.call('ZRANGEBYSCORE', timers, '-inf', now, 'LIMIT', 0, limit)
local moved, dropped = 0, 0
for _, member in ipairs(due) do
  local ok, entry = pcall(cjson.decode, member)
  local target, payload, valid = nil, nil, false
  if ok and type(entry) == 'table' then
    target, payload = entry['to'], entry['d']
    if type(target) == 'string' and type(payload) == 'string' then
      if entry['k'] == 'job' then
        valid = string.sub(target, 1, #queue_prefix) == queue_prefix
      elseif entry['k'] == 'inbox' then
        valid = target == inbox
      end
    end
  end
  if valid then
    redis.call('XADD', target, '*', 'd', payload)
    moved = moved + 1
  else
    dropped = dropped + 1
  end
  redis.call('ZREM', timers, member)
end
return {moved, dropped}
"""


def now_ms() -> int:
    """Wall-clock time in ms, the unit of timer scores."""
    return int(time.time() * 1000)


class Timers:
    """The timer sets of every shard."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._promote = Script(redis, PROMOTE_LUA, "timers.promote")

    def schedule_in(self, pipe: Any, shard: int, due_ms: int, entry: bytes) -> None:
        """Queue the ZADD of ``entry`` on a pipeline or transaction the caller executes."""
        pipe.zadd(self.keys.timers(shard), {entry: due_ms})

    async def schedule(self, shard: int, due_ms: int, entry: bytes) -> None:
        """Add ``entry`` (from :func:`~orchestrator.protocol.timer_entry`) due at ``due_ms``."""
        await self.redis.zadd(self.keys.timers(shard), {entry: due_ms})

    async def promote(self, shard: int, now: int | None = None, limit: int = 500) -> int:
        """Deliver up to ``limit`` entries of ``shard`` due at ``now`` (ms); return how many."""
        if limit < 1:
            return 0
        at = now_ms() if now is None else now
        moved, dropped = await self._promote(
            keys=[self.keys.timers(shard)], args=[at, limit, self.keys.tag(shard)]
        )
        if dropped:
            log.warning(
                "dropped %d malformed or out-of-shard timer entries in shard %d", dropped, shard
            )
        return int(moved)

    async def promote_all(self, now: int | None = None, limit: int = 500) -> int:
        """:meth:`promote` every shard (one pipelined round trip); return how many moved."""
        at = now_ms() if now is None else now
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in self.keys.all_shards():
                await self._promote(
                    keys=[self.keys.timers(shard)],
                    args=[at, limit, self.keys.tag(shard)],
                    client=pipe,
                )
            results = await pipe.execute()
        moved = 0
        for shard, (m, dropped) in zip(self.keys.all_shards(), results, strict=True):
            moved += int(m)
            if dropped:
                log.warning(
                    "dropped %d malformed or out-of-shard timer entries in shard %d", dropped, shard
                )
        return moved

    async def next_due_ms(self, shard: int) -> int | None:
        """Due time of the earliest entry of ``shard``, or None when there is none."""
        first = await self.redis.zrange(self.keys.timers(shard), 0, 0, withscores=True)
        if not first:
            return None
        return int(first[0][1])

    async def run(self, stop: asyncio.Event, *, max_sleep_s: float = 1.0) -> None:
        """Promote due timers of every shard until ``stop`` is set.

        Sleeps until the earliest due entry (at most ``max_sleep_s``, so entries
        scheduled by other processes are noticed); Redis errors are logged and retried.
        """
        while not stop.is_set():
            try:
                moved = await self.promote_all()
                if moved:
                    continue  # there may be more than one batch due
                dues = [await self.next_due_ms(s) for s in self.keys.all_shards()]
                pending = [d for d in dues if d is not None]
                wait_s = max_sleep_s
                if pending:
                    wait_s = min(max_sleep_s, max(0.005, (min(pending) - now_ms()) / 1000))
            except (RedisError, OSError) as exc:
                log.warning("timer promotion failed, retrying: %s", exc)
                wait_s = max_sleep_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait_s)
