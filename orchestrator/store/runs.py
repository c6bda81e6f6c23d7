"""The run executor: applies a transition's result to Redis in one atomic step.

Every write is one Lua call on the run's shard: compare the run hash's version
``v`` with the version the transition started from (compare-and-set), then HSET
the changed fields, XADD the dispatched jobs, ZADD the timers, XADD the events and
update the indexes.  A lost compare-and-set returns ``None`` and the caller
reloads and re-applies; nothing is half-written.  Many runs' writes pipeline into
one round trip (:meth:`RunStore.write_many`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from orchestrator.engine.commands import (
    Command,
    Dispatch,
    Emit,
    Finished,
    Notify,
    PostInbox,
    Reopened,
    StartDeadline,
    StartTimer,
)
from orchestrator.engine.state import RunState
from orchestrator.errors import Conflict, LimitExceeded, NotFound
from orchestrator.keys import WORKER_GROUP, Keys
from orchestrator.protocol import InboxMessage, timer_entry
from orchestrator.scripts import Script
from orchestrator.store.approvals_index import approvals_changed
from orchestrator.store.codec import changed_fields, decode_meta, decode_run
from orchestrator.store.event_codec import StoredEvent, decode_event, encode_event
from orchestrator.store.replicas import RIDE_THROUGH_S, ReplicaWait
from orchestrator.vocab import EventType

# KEYS: 1 run hash, 2 events stream, 3 shard's run index, 4 workflow's run index,
#       5 active set, 6 timers, 7 waiting approvals, 8.. one queue stream per dispatched job
#       (in order), then one queue stream per job delivery to acknowledge (a worker applying
#       its own results).
# ARGV: 1 expected version (0 = create), 2 header JSON {id, s, nh, nj, nt, ne, a, x, m, lim},
#       then nh HSET arguments, nj job payloads, nt*2 (score, member) timers, ne*2 (time ms,
#       payload) events (added at id <time>-*, or at * with the time in field t when the
#       stream holds a later id already: see store/event_codec.py), nz timer members to
#       remove (a finished run's deadline: it would only sit in the timers set, about 270
#       bytes per run, until it came due and did nothing), na entry ids to acknowledge
#       (XACK + XDEL, group h.g) on the last na keys: the results applied here leave
#       their queue in the same step, as COMPLETE_LUA does for the inbox path; np*2
#       (score, member) approvals now waiting, nq members no longer waiting (the approvals
#       index, store/approvals_index.py: GET /approvals reads it, not every active run).
# A finished run's events are rewritten once (DUMP + RESTORE, both allowed to fail: an
# ACL without @dangerous keeps the stream as it is): Redis allocates a stream's last
# node 4 KB ahead, which was most of a short run's memory; RESTORE sizes it to fit.
# Atomic because a run's state, its jobs and its events must never disagree: a job
# without the state that expects it, or a state without its job, would stall or
# double-run a node.  Returns the new version, -1 on a lost compare-and-set, -2 when
# the active-run limit is reached (create only).
APPLY_LUA = """
local h = cjson.decode(ARGV[2])
local expected = tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur ~= expected then return -1 end
if expected == 0 then
  if h.lim > 0 and redis.call('ZCARD', KEYS[5]) >= h.lim then return -2 end
  redis.call('ZADD', KEYS[3], h.s, h.id)
  redis.call('ZADD', KEYS[4], h.s, h.id)
end
local i = 3
local last = i + h.nh - 1
redis.call('HSET', KEYS[1], 'v', cur + 1)
while i <= last do
  local upto = math.min(last, i + 799)
  redis.call('HSET', KEYS[1], unpack(ARGV, i, upto))
  i = upto + 1
end
for j = 1, h.nj do
  redis.call('XADD', KEYS[7 + j], '*', 'd', ARGV[i])
  i = i + 1
end
for _ = 1, h.nt do
  redis.call('ZADD', KEYS[6], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, h.ne do
  local ok = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', h.m, ARGV[i] .. '-*', 'd', ARGV[i + 1])
  if type(ok) == 'table' and ok.err then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', h.m, '*', 'd', ARGV[i + 1], 't', ARGV[i])
  end
  i = i + 2
end
for _ = 1, h.nz do
  redis.call('ZREM', KEYS[6], ARGV[i])
  i = i + 1
end
for k = 1, h.na do
  redis.call('XACK', KEYS[7 + h.nj + k], h.g, ARGV[i])
  redis.call('XDEL', KEYS[7 + h.nj + k], ARGV[i])
  i = i + 1
end
for _ = 1, h.np do
  redis.call('ZADD', KEYS[7], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, h.nq do
  redis.call('ZREM', KEYS[7], ARGV[i])
  i = i + 1
end
if h.a == 1 then
  redis.call('ZADD', KEYS[5], h.s, h.id)
elseif h.a == -1 then
  redis.call('ZREM', KEYS[5], h.id)
end
if h.x > 0 then
  redis.call('EXPIRE', KEYS[1], h.x)
  redis.call('EXPIRE', KEYS[2], h.x)
  if redis.call('XLEN', KEYS[2]) <= 1000 then
    local dump = redis.pcall('DUMP', KEYS[2])
    if type(dump) == 'string' then
      redis.pcall('RESTORE', KEYS[2], h.x * 1000, dump, 'REPLACE')
    end
  end
elseif h.x == -1 then
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
return cur + 1
"""


def deadline_timer(state: RunState, due_ms: int, inbox: str) -> bytes:
    """The timers-set member of ``state``'s deadline in its current epoch."""
    msg = InboxMessage("deadline", state.run_id, due_ms)
    return timer_entry("inbox", inbox, msg.encode(), f"{state.run_id}:deadline:{state.epoch}")


class RunStore:
    """Runs in Redis: load, create, compare-and-set writes, events, listings."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        retention_s: float = 86400.0,
        event_maxlen: int = 10_000,
        replicas: ReplicaWait | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.replicas = replicas or ReplicaWait(redis)
        self.retention_s = max(1, int(retention_s))
        self.event_maxlen = event_maxlen
        self._apply = Script(redis, APPLY_LUA, "runs.apply")

    # -- writes -------------------------------------------------------------------
    def _call(
        self,
        old: RunState | None,
        new: RunState,
        commands: Sequence[Command],
        version: int,
        *,
        max_active: int = 0,
        acks: Sequence[tuple[str, str]] = (),
    ) -> tuple[list[str], list[Any]]:
        k = self.keys
        shard = k.shard_of(new.run_id)
        hset = changed_fields(old, new)
        jobs: list[bytes] = []
        job_keys: list[str] = []
        timers: list[Any] = []
        events: list[Any] = []
        unset: list[bytes] = []
        requested: list[tuple[int, str]] = []
        active = 1 if old is None else 0
        expire = 0
        inbox = k.inbox(shard)
        for cmd in commands:
            if isinstance(cmd, Dispatch):
                job_keys.append(k.queue(shard, cmd.lane, cmd.job.handler))
                jobs.append(cmd.job.encode())
            elif isinstance(cmd, Emit):
                events += [cmd.at_ms, encode_event(cmd)]
                if cmd.type == EventType.APPROVAL_REQUESTED and cmd.node is not None:
                    requested.append((cmd.at_ms, cmd.node))
            elif isinstance(cmd, StartTimer):
                msg = InboxMessage("timer", new.run_id, cmd.due_ms, node=cmd.node, token=cmd.token)
                uid = f"{new.run_id}:{cmd.node}:{cmd.token}"
                timers += [cmd.due_ms, timer_entry("inbox", inbox, msg.encode(), uid)]
            elif isinstance(cmd, StartDeadline):
                timers += [cmd.due_ms, deadline_timer(new, cmd.due_ms, inbox)]
            elif isinstance(cmd, PostInbox):
                if k.shard_of(cmd.message.run) != shard:  # one slot per write
                    raise ValueError(f"run {cmd.message.run} is not in {new.run_id}'s shard")
                job_keys.append(inbox)
                jobs.append(cmd.message.encode())
            elif isinstance(cmd, Finished):
                active, expire = -1, self.retention_s
                if new.deadline_ms is not None:
                    unset.append(deadline_timer(new, new.deadline_ms, inbox))
            elif isinstance(cmd, Reopened):
                active, expire = 1, -1
            elif isinstance(cmd, Notify):  # a stream like a job queue: same XADD
                job_keys.append(k.notify(shard))
                jobs.append(orjson.dumps({"url": cmd.url, "body": dict(cmd.body)}))
        waiting, done = approvals_changed(old, new, requested, finished=active == -1)
        header = {
            "id": new.run_id,
            "s": new.start_ms,
            "nh": len(hset),
            "nj": len(jobs),
            "nt": len(timers) // 2,
            "ne": len(events) // 2,
            "nz": len(unset),
            "na": len(acks),
            "np": len(waiting) // 2,
            "nq": len(done),
            "g": WORKER_GROUP,
            "a": active,
            "x": expire,
            "m": self.event_maxlen,
            "lim": max_active,
        }
        keys = [
            k.run(new.run_id),
            k.run_events(new.run_id),
            k.runs_all(shard),
            k.runs_of(shard, new.workflow_id),
            k.active(shard),
            k.timers(shard),
            k.approvals(shard),
            *job_keys,
            *(stream for stream, _ in acks),
        ]
        args: list[Any] = [version, orjson.dumps(header), *hset, *jobs, *timers, *events, *unset]
        args += [entry_id for _, entry_id in acks]
        args += [*waiting, *done]
        return keys, args

    async def create(
        self, state: RunState, commands: Sequence[Command], *, max_active: int = 0
    ) -> int:
        """Write a new run; ``LimitExceeded`` when ``max_active`` runs are active already,
        ``Conflict`` when a run with its id exists."""
        keys, args = self._call(None, state, commands, 0, max_active=max_active)
        if self.replicas.enabled:
            written, acked = await self._create_and_wait(keys, args)
            result = int(written)
            if result > 0:
                self.replicas.check(acked, f"run {state.run_id} created")
        else:
            result = int(await self._apply(keys=keys, args=args))
        if result == -2:
            raise LimitExceeded(
                f"{max_active} runs are active already (max_concurrent_runs); "
                "wait for some to finish or raise the limit",
                details={"limit": max_active},
            )
        if result == -1:
            # A client that lost its connection mid-call (a failover) resends the call:
            # the run it finds is then this one, written by the first send.
            try:
                stored, version = await self.load(state.run_id)
            except NotFound:
                stored = None
            if stored is None or (stored.workflow_id, stored.start_ms) != (
                state.workflow_id,
                state.start_ms,
            ):
                raise Conflict(
                    f"run id {state.run_id} exists already", details={"runId": state.run_id}
                )
            return version
        return result

    async def _create_and_wait(self, keys: list[str], args: list[Any]) -> list[Any]:
        """The create call and its WAIT in one pipeline (one connection), sent again while
        the cluster is failing over (a resent create finds its own run: see create)."""
        delay, waited = 0.05, 0.0
        while True:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    await self._apply(keys=keys, args=args, client=pipe)
                    self.replicas.queue(pipe, keys[0])
                    replies: list[Any] = await pipe.execute()
                    return replies
            except (aioredis.ConnectionError, aioredis.TimeoutError):
                if waited + delay > RIDE_THROUGH_S:
                    raise
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)

    async def write(
        self, old: RunState, new: RunState, commands: Sequence[Command], version: int
    ) -> int | None:
        """Compare-and-set ``new`` over ``old`` at ``version``; None when someone was faster."""
        keys, args = self._call(old, new, commands, version)
        result = int(await self._apply(keys=keys, args=args))
        return None if result < 0 else result

    async def write_many(
        self,
        writes: Sequence[tuple[RunState, RunState, Sequence[Command], int]],
        acks: Sequence[Sequence[tuple[str, str]]] = (),
    ) -> list[int | None]:
        """Several :meth:`write` calls in one pipelined round trip.

        ``acks[i]`` (queue stream, entry id) are job deliveries write ``i`` acknowledges
        when, and only when, its compare-and-set succeeds."""
        if not writes:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for i, (old, new, commands, version) in enumerate(writes):
                done = acks[i] if i < len(acks) else ()
                keys, args = self._call(old, new, commands, version, acks=done)
                await self._apply(keys=keys, args=args, client=pipe)
            results = await pipe.execute()
        return [None if int(r) < 0 else int(r) for r in results]

    # -- reads ----------------------------------------------------------------------
    async def load(self, run_id: str) -> tuple[RunState, int]:
        """A run and its version; ``NotFound`` when there is no such run."""
        fields: dict[bytes, bytes] = await self.redis.hgetall(self.keys.run(run_id))  # type: ignore[assignment]
        if not fields:
            raise NotFound(f"no run {run_id!r}")
        return decode_run(fields)

    async def load_many(self, run_ids: Iterable[str]) -> dict[str, tuple[RunState, int]]:
        """Several runs in one round trip; missing ones are left out."""
        ids = list(run_ids)
        if not ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for run_id in ids:
                pipe.hgetall(self.keys.run(run_id))
            results = await pipe.execute()
        return {rid: decode_run(f) for rid, f in zip(ids, results, strict=True) if f}

    async def load_meta_many(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Only the run-level ``meta`` of several runs (cheap listings)."""
        if not run_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hget(self.keys.run(run_id), "meta")
            results = await pipe.execute()
        return {rid: decode_meta(m) for rid, m in zip(run_ids, results, strict=True) if m}

    async def events(
        self, run_id: str, *, after: str | None = None, count: int = 1000
    ) -> list[StoredEvent]:
        """Events of a run after stream id ``after`` (exclusive), oldest first."""
        start = f"({after}" if after else "-"
        try:
            entries: Any = await self.redis.xrange(
                self.keys.run_events(run_id), start, "+", count=count
            )
        except aioredis.ResponseError as exc:
            raise NotFound(f"bad event id {after!r}: {exc}") from None
        return [decode_event(eid, fields) for eid, fields in entries]

    async def run_ids(
        self,
        *,
        workflow_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
        since_ms: int | None = None,
    ) -> tuple[list[str], int]:
        """Run ids newest first (all shards merged) and the total count; ``since_ms``
        keeps the runs started at or after it (the indexes are scored by start time)."""
        keys = [
            self.keys.runs_of(s, workflow_id) if workflow_id else self.keys.runs_all(s)
            for s in self.keys.all_shards()
        ]
        low = "-inf" if since_ms is None else since_ms
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrevrangebyscore(
                    key, "+inf", low, start=0, num=offset + limit, withscores=True
                )
                pipe.zcount(key, low, "+inf")
            results = await pipe.execute()
        return merge_newest(results, offset=offset, limit=limit)

    async def forget(self, run_ids: Sequence[str], workflow_id: str | None = None) -> None:
        """Drop expired runs from the indexes (their hashes are gone)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for rid in run_ids:
                shard = self.keys.shard_of(rid)
                pipe.zrem(self.keys.runs_all(shard), rid)
                if workflow_id:
                    pipe.zrem(self.keys.runs_of(shard, workflow_id), rid)
            await pipe.execute()

    async def active_count(self) -> int:
        """Runs active in all shards."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for s in self.keys.all_shards():
                pipe.zcard(self.keys.active(s))
            results = await pipe.execute()
        return sum(int(r) for r in results)


def merge_newest(results: Sequence[Any], *, offset: int, limit: int) -> tuple[list[str], int]:
    """One page of ids, newest first, from per-shard pairs of replies (ids with scores, count)."""
    merged: list[tuple[float, str]] = []
    total = 0
    for i in range(0, len(results), 2):
        merged += [(score, rid.decode()) for rid, score in results[i]]
        total += int(results[i + 1])
    merged.sort(reverse=True)
    return [rid for _, rid in merged[offset : offset + limit]], total
