"""Schedules in Redis: definitions, their moving state, the due set, outcomes, leases.

Every key is under the ``{sched}`` hash tag (see :mod:`orchestrator.keys`), so the
scripts below are single-slot on a cluster.  A scheduler pass holds a schedule's lease
(``SET NX PX``) while it starts the due fires' runs, then :meth:`ScheduleStore.advance`
records the outcomes and the next fire in one script that first checks the lease is
still its own.  A process that dies holding a lease leaves it to expire; whoever takes
the schedule over starts the same fires with the same idempotency keys (nothing twice).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis

from orchestrator.engine.fires import Outage
from orchestrator.errors import Conflict, NotFound
from orchestrator.keys import Keys
from orchestrator.scripts import Script
from orchestrator.spec.schedule import ScheduleSpec

MAX_OUTCOMES = 20
LEASE_MS = 30_000

# KEYS: 1 defs, 2 state, 3 due, 4 lease, 5 outcomes.
# ARGV: 1 schedule id, 2 lease token ('' = no lease needed), 3 JSON {field: value|''},
#       4 due score ('' = not due, 'keep' = leave it), 5 release lease (1/0),
#       6.. outcome JSONs (oldest first).
_ADVANCE = """
if ARGV[2] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return -1
end
for name, value in pairs(cjson.decode(ARGV[3])) do
  if value == '' then redis.call('HDEL', KEYS[2], name)
  else redis.call('HSET', KEYS[2], name, value) end
end
if ARGV[4] == 'keep' then
elseif ARGV[4] == '' or redis.call('HGET', KEYS[2], 'paused') == '1' then
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
end
for i = 6, #ARGV do redis.call('LPUSH', KEYS[5], ARGV[i]) end
if #ARGV >= 6 then redis.call('LTRIM', KEYS[5], 0, 19) end
if ARGV[5] == '1' and ARGV[2] ~= '' then redis.call('DEL', KEYS[4]) end
return 1
"""

# KEYS: 1 tick, 2 outage.  ARGV: 1 outage threshold ms.  The server's clock, not the
# callers': processes on machines whose clocks differ must not see a gap that is not there.
_TICK = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prev = tonumber(redis.call('GET', KEYS[1]) or '')
redis.call('SET', KEYS[1], now)
if not prev then
  redis.call('SET', KEYS[2], '0,' .. now)
elseif now - prev > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], prev .. ',' .. now)
end
return redis.call('GET', KEYS[2])
"""

# KEYS: 1 defs, 2 state, 3 due.  ARGV: 1 id, 2 JSON spec, 3 due score ('' none), 4 next, 5 create,
# 6 owner ('' keeps the recorded one)
_PUT = """
if ARGV[5] == '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if ARGV[5] == '0' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], 'owner', ARGV[6]) end
if ARGV[4] == '' then redis.call('HDEL', KEYS[2], 'next')
else redis.call('HSET', KEYS[2], 'next', ARGV[4]) end
if ARGV[3] == '' or redis.call('HGET', KEYS[2], 'paused') == '1' then
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """A schedule as stored: its spec and its state hash (decoded)."""

    spec: ScheduleSpec
    state: dict[str, str] = field(default_factory=dict)

    @property
    def owner(self) -> str | None:
        """The user who last wrote it (its fires run with their handler permissions)."""
        return self.state.get("owner") or None

    @property
    def paused(self) -> bool:
        """Whether fires are held."""
        return self.state.get("paused") == "1"

    def ms(self, name: str) -> int | None:
        """An integer state field."""
        value = self.state.get(name)
        return int(value) if value else None


class ScheduleStore:
    """Redis I/O of schedules."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._advance = Script(redis, _ADVANCE, "schedules.advance")
        self._tick = Script(redis, _TICK, "schedules.tick")
        self._put = Script(redis, _PUT, "schedules.put")

    # -- definitions ------------------------------------------------------------------
    async def put(
        self,
        spec: ScheduleSpec,
        next_ms: int | None,
        due: int | None,
        *,
        create: bool,
        owner: str | None = None,
    ) -> None:
        """Create (Conflict when it exists) or replace (NotFound when missing) a schedule.

        ``owner``: the user who wrote it, whose handler permissions its fires run with.
        """
        k = self.keys
        result = await self._put(
            keys=[k.schedules(), k.schedule_state(spec.id), k.schedules_due()],
            args=[
                spec.id,
                spec.model_dump_json(),
                "" if due is None else due,
                "" if next_ms is None else next_ms,
                "1" if create else "0",
                owner or "",
            ],
        )
        if int(result) == 0:
            raise Conflict(f"schedule {spec.id!r} exists already", details={"scheduleId": spec.id})
        if int(result) == -1:
            raise NotFound(f"no schedule {spec.id!r}", details={"scheduleId": spec.id})

    async def get(self, schedule_id: str) -> Stored:
        """One schedule; NotFound when missing."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(self.keys.schedules(), schedule_id)
            pipe.hgetall(self.keys.schedule_state(schedule_id))
            raw, state = await pipe.execute()
        if raw is None:
            raise NotFound(f"no schedule {schedule_id!r}", details={"scheduleId": schedule_id})
        return Stored(ScheduleSpec.model_validate_json(raw), _decode(state))

    async def all(self) -> list[Stored]:
        """Every schedule, by id."""
        defs: Any = await self.redis.hgetall(self.keys.schedules())
        ids = sorted(k.decode() for k in defs)
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hgetall(self.keys.schedule_state(sid))
            states = await pipe.execute()
        return [
            Stored(ScheduleSpec.model_validate_json(defs[sid.encode()]), _decode(st))
            for sid, st in zip(ids, states, strict=True)
        ]

    async def delete(self, schedule_id: str) -> bool:
        """Remove a schedule and everything about it; False when it did not exist."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(k.schedules(), schedule_id)
            pipe.zrem(k.schedules_due(), schedule_id)
            pipe.delete(
                k.schedule_state(schedule_id),
                k.schedule_outcomes(schedule_id),
                k.schedule_lease(schedule_id),
                k.backfill(schedule_id),
            )
            pipe.srem(k.backfills(), schedule_id)
            removed, *_ = await pipe.execute()
        return bool(removed)

    # -- passes ---------------------------------------------------------------------------
    async def tick(self, outage_after_ms: int) -> Outage | None:
        """Record a scheduler pass; the last outage (no pass for ``outage_after_ms``).

        Before the very first pass nothing was scheduling: that is an outage too, so fires
        due before any orchestrator ran follow their schedule's ``catchup``."""
        raw = await self._tick(
            keys=[self.keys.scheduler_tick(), self.keys.scheduler_outage()],
            args=[outage_after_ms],
        )
        if not raw:
            return None
        low, _, high = (raw.decode() if isinstance(raw, bytes) else str(raw)).partition(",")
        return Outage(int(low), int(high))

    async def due(self, now_ms: int, count: int = 100) -> list[str]:
        """Schedule ids due at ``now_ms``, earliest first."""
        ids: Any = await self.redis.zrangebyscore(
            self.keys.schedules_due(), "-inf", now_ms, 0, count
        )
        return [i.decode() for i in ids]

    async def earliest(self) -> int | None:
        """The earliest due time, if any schedule is due at all."""
        rows = await self.redis.zrange(self.keys.schedules_due(), 0, 0, withscores=True)
        return int(rows[0][1]) if rows else None

    async def lease(self, schedule_id: str, ttl_ms: int = LEASE_MS) -> str | None:
        """Take the schedule's lease: its token, or None when another process holds it."""
        token = secrets.token_hex(8)
        ok = await self.redis.set(self.keys.schedule_lease(schedule_id), token, nx=True, px=ttl_ms)
        return token if ok else None

    async def release(self, schedule_id: str, token: str) -> None:
        """Give the lease back (only if it is still ours)."""
        await self.advance(schedule_id, token, {}, due=None, keep_due=True, release=True)

    async def advance(
        self,
        schedule_id: str,
        token: str | None,
        fields: Mapping[str, Any],
        *,
        due: int | None,
        outcomes: Sequence[Mapping[str, Any]] = (),
        keep_due: bool = False,
        release: bool = False,
    ) -> bool:
        """Write state fields, the due time and outcomes if the lease is still ours."""
        k = self.keys
        result = await self._advance(
            keys=[
                k.schedules(),
                k.schedule_state(schedule_id),
                k.schedules_due(),
                k.schedule_lease(schedule_id),
                k.schedule_outcomes(schedule_id),
            ],
            args=[
                schedule_id,
                token or "",
                orjson.dumps({n: "" if v is None else str(v) for n, v in fields.items()}),
                "keep" if keep_due else ("" if due is None else due),
                "1" if release else "0",
                *[orjson.dumps(o) for o in outcomes],
            ],
        )
        return int(result) == 1

    async def outcomes(self, schedule_id: str, count: int = MAX_OUTCOMES) -> list[dict[str, Any]]:
        """The last outcomes, newest first."""
        raw = await self.redis.lrange(self.keys.schedule_outcomes(schedule_id), 0, count - 1)
        return [orjson.loads(r) for r in raw]


def _decode(state: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in state.items()}
