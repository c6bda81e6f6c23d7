"""The job queue: Redis Streams with consumer groups, priority lanes and a dead-letter stream.

Jobs (:class:`~orchestrator.protocol.Job`, field ``d``) live on ``q:<lane>:<handler>``
of their run's shard, consumer group ``workers``.  Delivery is at least once: an
entry stays pending (leased) until the worker acknowledges it together with its
result in the shard's inbox; a worker extends its leases while handlers run;
entries idle longer than ``queue.visibility_timeout`` are reclaimed by another
worker; after ``queue.max_deliveries`` deliveries an entry moves to the shard's
``dlq`` stream.  Acknowledged entries are deleted, so a stream's length is its
backlog (waiting + pending).

Every multi-key script touches keys of one shard only (one hash tag).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from orchestrator.keys import LANES, WORKER_GROUP, Keys, lane_for_priority
from orchestrator.protocol import InboxMessage, Job
from orchestrator.scripts import Script, is_cluster
from orchestrator.settings import Settings
from orchestrator.store.attempt_logs import AttemptLogs
from orchestrator.store.queue_admin import DEAD_LETTER_FN, QueueAdmin, as_str
from orchestrator.store.replicas import ReplicaWait
from orchestrator.store.timers import now_ms

log = logging.getLogger("dagq.queue")

# One script per read so the total handed out is exactly ARGV[3] (a plain
# multi-stream XREADGROUP returns COUNT entries *per stream*) and lanes are taken in
# priority order in one round trip.  A missing group is created (id 0: nothing
# already written is skipped).  When nothing waits it returns each stream's
# last-delivered id so the caller can block on XREAD from exactly there (no race).
READ_LUA = (
    DEAD_LETTER_FN
    + """
local group, consumer, want = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out, got = {}, 0
for i, key in ipairs(KEYS) do
  if got >= want then break end
  local res = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want - got,
    'STREAMS', key, '>')
  if type(res) == 'table' and res['err'] then
    if not string.find(res['err'], 'NOGROUP', 1, true) then return redis.error_reply(res['err']) end
    redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
    res = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want - got,
      'STREAMS', key, '>')
  end
  if res then
    for _, e in ipairs(res[1][2]) do
      out[#out + 1] = i - 1; out[#out + 1] = e[1]; out[#out + 1] = field(e[2], 'd') or ''
      got = got + 1
    end
  end
end
if got > 0 then return {out, {}} end
local last = {}
for i, key in ipairs(KEYS) do
  last[i] = '0-0'
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local m = {}
    for j = 1, #g, 2 do m[g[j]] = g[j + 1] end
    if m['name'] == group then last[i] = m['last-delivered-id'] end
  end
end
return {out, last}
"""
)

# Completion: the result goes to the inbox and the job is acked (and deleted)
# together, so a result is never lost after its ack and an acked job always has its
# result.  A script rather than MULTI/EXEC because EXEC runs every queued command
# even when one fails (say the inbox XADD hits a wrong-type key): the ack would land
# without its result.  Here every result is written first; an error aborts the
# script before any ack, and the jobs are redelivered (a duplicate result is
# harmless: the engine applies one per attempt token).
COMPLETE_LUA = """
local inbox, group = KEYS[1], ARGV[1]
for j = 2, #KEYS do redis.call('XADD', inbox, '*', 'd', ARGV[2 * j - 1]) end
for j = 2, #KEYS do
  redis.call('XACK', KEYS[j], group, ARGV[2 * j - 2])
  redis.call('XDEL', KEYS[j], ARGV[2 * j - 2])
end
return #KEYS - 1
"""

# Atomic so that a lease is extended only while this consumer still holds it:
# a plain XCLAIM would steal back a delivery another worker reclaimed meanwhile.
EXTEND_LUA = """
local group, consumer = ARGV[1], ARGV[2]
local kept = {}
for i, key in ipairs(KEYS) do
  local id = ARGV[i + 2]
  local p = redis.pcall('XPENDING', key, group, id, id, 1)
  kept[i] = 0
  if type(p) == 'table' and not p['err'] and p[1] and p[1][2] == consumer then
    redis.call('XCLAIM', key, group, consumer, 0, id, 'JUSTID')
    kept[i] = 1
  end
end
return kept
"""

# Hand back = re-add the entry as a fresh one and ack+delete the old one, in one
# step (else it could be lost or doubled).  The fresh entry is readable at once by
# any worker blocked on the lane; an XCLAIM with IDLE would wait for the next
# reclaim sweep and count as a delivery towards the dead-letter limit.
HAND_BACK_LUA = """
local group, consumer = ARGV[1], ARGV[2]
local done = {}
for i, key in ipairs(KEYS) do
  local id = ARGV[i + 2]
  local p = redis.pcall('XPENDING', key, group, id, id, 1)
  done[i] = 0
  if type(p) == 'table' and not p['err'] and p[1] and p[1][2] == consumer then
    local e = redis.call('XRANGE', key, id, id)
    if e[1] then
      redis.call('XADD', key, '*', unpack(e[1][2]))
      done[i] = 1
    end
    redis.call('XACK', key, group, id)
    redis.call('XDEL', key, id)
  end
end
return done
"""

# Atomic so two workers sweeping at once cannot both claim or both dead-letter an
# entry, and a dead-lettered entry is in the dlq exactly when it left the queue.
# XPENDING IDLE + XCLAIM rather than XAUTOCLAIM: the delivery count must be read
# before claiming, so a worn-out entry goes to the dlq instead of being run again.
RECLAIM_LUA = (
    DEAD_LETTER_FN
    + """
local dlq = KEYS[1]
local group, consumer = ARGV[1], ARGV[2]
local min_idle, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local max_deliveries, scan = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()
local out, dead, got = {}, 0, 0
for i = 2, #KEYS do
  local key = KEYS[i]
  local rows = redis.pcall('XPENDING', key, group, 'IDLE', min_idle, '-', '+', scan)
  if type(rows) == 'table' and not rows['err'] then
    for _, row in ipairs(rows) do
      local id, count = row[1], tonumber(row[4])
      local e = redis.call('XRANGE', key, id, id)
      if not e[1] then
        redis.call('XACK', key, group, id)
      elseif count >= max_deliveries then
        dead_letter(dlq, key, group, id, e[1][2], count,
          'delivered ' .. count .. ' times without completing', now)
        dead = dead + 1
      elseif got < limit then
        local c = redis.call('XCLAIM', key, group, consumer, min_idle, id)
        if c[1] then
          out[#out + 1] = i - 2; out[#out + 1] = id
          out[#out + 1] = field(c[1][2], 'd') or ''; out[#out + 1] = count + 1
          got = got + 1
        end
      end
    end
  end
end
return {out, dead}
"""
)


@dataclass(frozen=True, slots=True, eq=False)
class Delivery:
    """One delivery of a job to a consumer (compare by identity)."""

    shard: int
    stream: str
    entry_id: str
    job: Job
    deliveries: int
    """How many times the entry has been delivered, this one included."""


class JobQueue(QueueAdmin):
    """Producer, consumer and janitor of the job streams."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: Settings) -> None:
        super().__init__(redis, keys)
        self.settings = settings
        self._read = Script(redis, READ_LUA, "queue.read")
        self._complete = Script(redis, COMPLETE_LUA, "queue.complete")
        self._extend = Script(redis, EXTEND_LUA, "queue.extend")
        self._hand_back = Script(redis, HAND_BACK_LUA, "queue.hand_back")
        self._reclaim = Script(redis, RECLAIM_LUA, "queue.reclaim")
        self.replicas = ReplicaWait.from_settings(redis, settings)
        self._turn = itertools.count()
        storage, limits = settings.workflow.storage, settings.limits
        self.attempt_logs = AttemptLogs(
            redis, keys, ttl_s=storage.ttl + limits.max_workflow_duration
        )

    # -- producing ---------------------------------------------------------------
    def streams(self, shard: int, handlers: Iterable[str]) -> list[str]:
        """Job streams of ``handlers`` in ``shard``, high lane first."""
        names = list(handlers)
        return [self.keys.queue(shard, lane, h) for lane in LANES for h in names]

    async def ensure_groups(self, handlers: Iterable[str]) -> None:
        """Create the ``workers`` group (from id 0, making the stream) on every job stream."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in self.keys.all_shards():
                for key in self.streams(shard, handlers):
                    pipe.xgroup_create(key, WORKER_GROUP, id="0", mkstream=True)
            results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, ResponseError) and "BUSYGROUP" not in str(result):
                raise result

    async def enqueue(self, job: Job, *, shard: int | None = None, priority: int = 5) -> str:
        """XADD ``job`` to its handler's stream (lane from ``priority``); return the entry id."""
        where = self.keys.shard_of(job.run) if shard is None else shard
        key = self.keys.queue(where, lane_for_priority(priority), job.handler)
        return as_str(await self.redis.xadd(key, {"d": job.encode()}))

    # -- consuming ---------------------------------------------------------------
    async def read(
        self,
        handlers: Sequence[str],
        consumer: str,
        count: int,
        block_ms: int = 0,
        *,
        wake: asyncio.Event | None = None,
    ) -> list[Delivery]:
        """Up to ``count`` new deliveries for ``consumer``, high lane first.

        One script call per shard (shards visited round-robin, lanes in priority
        order within each).  With nothing waiting and ``block_ms > 0`` it blocks on
        XREAD (which consumes nothing, so cancelling it is harmless) until a job
        arrives, ``block_ms`` passes or ``wake`` is set, then reads once more.
        Do not cancel a read from outside: entries delivered by a cancelled script
        call stay leased to ``consumer`` until reclaimed; use ``wake`` instead.
        """
        if count < 1 or not handlers:
            return []
        turn = next(self._turn)
        # Rotate handlers within a lane so a busy handler cannot starve the others.
        names = list(handlers)
        k = turn % len(names)
        names = names[k:] + names[:k]
        shards = list(self.keys.all_shards())
        s = turn % len(shards)
        shards = shards[s:] + shards[:s]
        out, last_ids = await self._read_once(shards, names, consumer, count)
        if out or block_ms <= 0:
            return out
        await self._block(last_ids, block_ms, wake)
        if wake is not None and wake.is_set():
            return []
        out, _ = await self._read_once(shards, names, consumer, count)
        return out

    async def _read_once(
        self, shards: list[int], handlers: list[str], consumer: str, count: int
    ) -> tuple[list[Delivery], dict[int, dict[str, str]]]:
        out: list[Delivery] = []
        last_ids: dict[int, dict[str, str]] = {}
        for shard in shards:
            streams = self.streams(shard, handlers)
            flat, last = await self._read(
                keys=streams, args=[WORKER_GROUP, consumer, count - len(out)]
            )
            for i in range(0, len(flat), 3):
                stream = streams[int(flat[i])]
                entry_id, payload = as_str(flat[i + 1]), flat[i + 2]
                job = await self._decode_or_dead_letter(shard, stream, entry_id, payload)
                if job is not None:
                    out.append(Delivery(shard, stream, entry_id, job, 1))
            if last:
                last_ids[shard] = {key: as_str(i) for key, i in zip(streams, last, strict=True)}
            if len(out) >= count:
                break
        return out, last_ids

    async def _decode_or_dead_letter(
        self, shard: int, stream: str, entry_id: str, payload: bytes | str, deliveries: int = 1
    ) -> Job | None:
        try:
            return Job.decode(payload)
        except (ValueError, KeyError, TypeError) as exc:
            # A job nobody can run would be redelivered forever: dead-letter it now.
            log.error(
                "malformed job %s on %s moved to the dead-letter stream: %s", entry_id, stream, exc
            )
            await self._dead_letter(
                keys=[self.keys.dead_letters(shard), stream],
                args=[WORKER_GROUP, entry_id, deliveries, f"malformed job payload: {exc}"],
            )
            return None

    async def _block(
        self, last_ids: dict[int, dict[str, str]], block_ms: int, wake: asyncio.Event | None
    ) -> None:
        """Wait until a stream has entries past its group's last-delivered id, the
        timeout, or ``wake``."""
        waits: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self.redis.xread(dict[Any, Any](ids), count=1, block=block_ms))
            for ids in last_ids.values()
            if ids
        ]
        if not waits:
            return
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            # One blocking XREAD per shard (streams of different shards never mix).
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def started_many(self, deliveries: Sequence[Delivery], worker_id: str) -> None:
        """XADD a ``started`` message per delivery to its shard's inbox, one pipeline."""
        if not deliveries:
            return
        at = now_ms()
        async with self.redis.pipeline(transaction=False) as pipe:
            for d in deliveries:
                msg = InboxMessage(
                    type="started",
                    run=d.job.run,
                    at_ms=at,
                    node=d.job.node,
                    token=d.job.token,
                    worker=worker_id,
                )
                pipe.xadd(self.keys.inbox(d.shard), {"d": msg.encode()})
            await pipe.execute()

    async def complete(self, delivery: Delivery, message: InboxMessage) -> None:
        """Post ``message`` to the inbox and acknowledge ``delivery``, atomically."""
        await self.complete_many([(delivery, message)])

    async def complete_many(
        self,
        items: Sequence[tuple[Delivery, InboxMessage]],
        logs: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """:meth:`complete` many deliveries: one script call per shard, one round trip.

        ``logs`` (run id, attempt log payload) are written in the same round trip.
        See ``COMPLETE_LUA`` for why a script rather than MULTI/EXEC.
        """
        if not items:
            return
        by_shard: dict[int, list[tuple[Delivery, InboxMessage]]] = defaultdict(list)
        for d, msg in items:
            by_shard[d.shard].append((d, msg))
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard, batch in by_shard.items():
                args: list[bytes | str] = [WORKER_GROUP]
                for d, msg in batch:
                    args += [d.entry_id, msg.encode()]
                await self._complete(
                    keys=[self.keys.inbox(shard), *(d.stream for d, _ in batch)],
                    args=args,
                    client=pipe,
                )
            for run_id, payload in logs:
                self.attempt_logs.append(pipe, run_id, payload)
            waits: list[str] = []
            if self.replicas.enabled:
                # One WAIT per node (shards on one server share its connection), last.
                waits = [self.keys.inbox(s) for s in by_shard]
                if not is_cluster(self.redis):
                    waits = waits[:1]
                for key in waits:
                    self.replicas.queue(pipe, key)
            results = await pipe.execute()
        for acked in results[len(results) - len(waits) :]:
            self.replicas.check(acked, f"{len(items)} node result(s)")

    async def extend(self, deliveries: Sequence[Delivery], consumer: str) -> list[Delivery]:
        """Reset the idle time of deliveries ``consumer`` still holds; return the ones it lost."""
        flags = await self._per_shard(self._extend, deliveries, consumer)
        return [d for d, kept in zip(deliveries, flags, strict=True) if not kept]

    async def hand_back(self, deliveries: Sequence[Delivery], consumer: str) -> int:
        """Give deliveries back to the queue for any worker to take now; return how many.

        Each held entry is re-added as a fresh entry of its stream and the old one
        acked, atomically (see ``HAND_BACK_LUA``).  Its delivery count restarts.
        """
        flags = await self._per_shard(self._hand_back, deliveries, consumer)
        return sum(1 for kept in flags if kept)

    async def _per_shard(
        self, script: Any, deliveries: Sequence[Delivery], consumer: str
    ) -> list[bool]:
        """Run a (keys=streams, args=group, consumer, ids) script once per shard, pipelined."""
        if not deliveries:
            return []
        by_shard: dict[int, list[int]] = defaultdict(list)
        for i, d in enumerate(deliveries):
            by_shard[d.shard].append(i)
        async with self.redis.pipeline(transaction=False) as pipe:
            for idx in by_shard.values():
                await script(
                    keys=[deliveries[i].stream for i in idx],
                    args=[WORKER_GROUP, consumer, *(deliveries[i].entry_id for i in idx)],
                    client=pipe,
                )
            results = await pipe.execute()
        flags = [False] * len(deliveries)
        for idx, result in zip(by_shard.values(), results, strict=True):
            for i, flag in zip(idx, result, strict=True):
                flags[i] = bool(int(flag))
        return flags

    async def reclaim(
        self, consumer: str, handlers: Sequence[str], count: int = 100
    ) -> list[Delivery]:
        """Take over deliveries idle past the visibility timeout; dead-letter worn-out ones.

        Returns up to ``count`` deliveries now held by ``consumer`` (to run);
        entries already delivered ``queue.max_deliveries`` times go to the
        dead-letter stream instead (this happens even when ``count`` is 0).
        """
        q = self.settings.queue
        min_idle = max(1, int(q.visibility_timeout * 1000))
        out: list[Delivery] = []
        for shard in self.keys.all_shards():
            streams = self.streams(shard, handlers)
            flat, dead = await self._reclaim(
                keys=[self.keys.dead_letters(shard), *streams],
                args=[
                    WORKER_GROUP,
                    consumer,
                    min_idle,
                    max(0, count - len(out)),
                    q.max_deliveries,
                    max(count, 0) + 100,
                ],
            )
            if dead:
                log.warning(
                    "moved %d job(s) of shard %d to the dead-letter stream after %d deliveries",
                    dead,
                    shard,
                    q.max_deliveries,
                )
            for i in range(0, len(flat), 4):
                stream = streams[int(flat[i])]
                entry_id, n = as_str(flat[i + 1]), int(flat[i + 3])
                job = await self._decode_or_dead_letter(shard, stream, entry_id, flat[i + 2], n)
                if job is not None:
                    out.append(Delivery(shard, stream, entry_id, job, n))
        return out
