"""Dead-letter handling and depth reporting of the job queue.

Split from :mod:`orchestrator.store.queue` (whose :class:`~orchestrator.store.queue.JobQueue`
inherits :class:`QueueAdmin`) to keep each module to one idea: the hot path there,
operations and monitoring here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from orchestrator.errors import BadRequest
from orchestrator.keys import WORKER_GROUP, Keys
from orchestrator.protocol import InboxMessage, Job
from orchestrator.scripts import Script
from orchestrator.store.timers import now_ms

_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")

# Shared by the scripts that dead-letter: copy the entry to the dlq with where it
# came from, then ack and delete it from its queue.
DEAD_LETTER_FN = """
local function field(fields, name)
  for j = 1, #fields, 2 do if fields[j] == name then return fields[j + 1] end end
  return nil
end
local function dead_letter(dlq, key, group, id, fields, count, reason, now)
  redis.call('XADD', dlq, '*', 'd', field(fields, 'd') or '', 'stream', key, 'id', id,
    'deliveries', count, 'at', now, 'reason', reason)
  redis.call('XACK', key, group, id)
  redis.call('XDEL', key, id)
end
local function now_ms()
  local t = redis.call('TIME')
  return string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))
end
"""

# One entry straight to the dlq (ack + delete with it, atomically): a malformed job,
# or an inbox entry the orchestrators failed to apply too often.
DEAD_LETTER_LUA = (
    DEAD_LETTER_FN
    + """
local e = redis.call('XRANGE', KEYS[2], ARGV[2], ARGV[2])
if not e[1] then return 0 end
dead_letter(KEYS[1], KEYS[2], ARGV[1], ARGV[2], e[1][2], ARGV[3], ARGV[4], now_ms())
return 1
"""
)


# Atomic so a dead letter is either back on its queue or still in the dlq, never
# both or neither.  The target stream comes from the entry's data: it must be a
# job queue or the inbox of this shard (ARGV[1] is the shard's tag prefix).
REQUEUE_LUA = """
local prefix = ARGV[1] .. 'q:'
local n = 0
for i = 2, #ARGV do
  local e = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if e[1] then
    local m = {}
    for j = 1, #e[1][2], 2 do m[e[1][2][j]] = e[1][2][j + 1] end
    local s = m['stream']
    local ours = type(s) == 'string' and (string.sub(s, 1, #prefix) == prefix
      or s == ARGV[1] .. 'inbox')
    if ours and m['d'] then
      redis.call('XADD', s, '*', 'd', m['d'])
      redis.call('XDEL', KEYS[1], ARGV[i])
      n = n + 1
    end
  end
end
return n
"""

# The failed message is written only by the caller whose XDEL removed the entry,
# so concurrent purges of one entry fail the attempt once.
PURGE_LUA = """
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    n = n + 1
    if ARGV[i + 1] ~= '' then redis.call('XADD', KEYS[2], '*', 'd', ARGV[i + 1]) end
  end
end
return n
"""


def as_str(value: bytes | str) -> str:
    """``value`` as text (the client may or may not decode responses)."""
    return value.decode() if isinstance(value, bytes) else value


def _b(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry of a shard's dead-letter stream."""

    shard: int
    entry_id: str
    stream: str
    original_id: str
    deliveries: int
    at_ms: int
    reason: str
    payload: bytes
    job: Job | None
    """The job, or None when the payload was not a valid job (or is an inbox message)."""
    from_inbox: bool = False
    """A result or signal the orchestrators could not apply (not a job)."""
    message: InboxMessage | None = None
    """The inbox message, when ``from_inbox`` and its payload could be read."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the API and the CLI."""
        if self.from_inbox:
            msg = self.message
            return {
                **self._where(),
                "source": "inbox",
                "runId": msg.run if msg else None,
                "nodeId": msg.node if msg else None,
                "handler": None,
                "attempt": None,
                "messageType": msg.type if msg else None,
            }
        return {
            **self._where(),
            "source": "job",
            "runId": self.job.run if self.job else None,
            "nodeId": self.job.node if self.job else None,
            "handler": self.job.handler if self.job else None,
            "attempt": self.job.attempt if self.job else None,
        }

    def _where(self) -> dict[str, Any]:
        return {
            "shard": self.shard,
            "id": self.entry_id,
            "stream": self.stream,
            "originalId": self.original_id,
            "deliveries": self.deliveries,
            "atMs": self.at_ms,
            "reason": self.reason,
        }


def parse_queue_key(keys: Keys, shard: int, key: str) -> tuple[str, str]:
    """``(lane, handler)`` of a job stream key of ``shard``."""
    rest = key[len(keys.tag(shard)) + 2 :]
    lane, _, handler = rest.partition(":")
    return lane, handler


class QueueAdmin:
    """Dead letters and depths of the job streams (base of ``JobQueue``)."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._requeue = Script(redis, REQUEUE_LUA, "queue_admin.requeue")
        self._purge = Script(redis, PURGE_LUA, "queue_admin.purge")
        self._dead_letter = Script(redis, DEAD_LETTER_LUA, "queue_admin.dead_letter")

    # -- dead letters ------------------------------------------------------------
    async def dead_letters(self, shard: int | None = None, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead letters of ``shard`` (or of every shard)."""
        shards = list(self.keys.all_shards()) if shard is None else [shard]
        out: list[DeadLetter] = []
        for s in shards:
            rows = await self.redis.xrange(self.keys.dead_letters(s), count=count)
            for entry_id, fields in rows or []:
                if entry_id is not None and fields is not None:
                    out.append(_letter_of(self.keys, s, as_str(entry_id), fields))
        return out[:count] if shard is None else out

    async def dead_letter_inbox(
        self, shard: int, group: str, entry_id: str, deliveries: int, reason: str
    ) -> bool:
        """Move an inbox entry ``group`` cannot apply to the dead letters, with ``reason``.

        The entry is acknowledged and deleted in the same step; False when it was gone.
        Requeueing the letter puts it back on the inbox.
        """
        moved = await self._dead_letter(
            keys=[self.keys.dead_letters(shard), self.keys.inbox(shard)],
            args=[group, entry_id, deliveries, reason],
        )
        return bool(moved)

    async def requeue_dead(self, entry_ids: Iterable[str], shard: int | None = None) -> int:
        """Put dead letters back on their queue as fresh entries; return how many moved."""
        ids = self._check_ids(entry_ids)
        if not ids:
            return 0
        moved = 0
        for s in self._shards(shard):
            moved += int(
                await self._requeue(keys=[self.keys.dead_letters(s)], args=[self.keys.tag(s), *ids])
            )
        return moved

    async def purge_dead(self, entry_ids: Iterable[str], shard: int | None = None) -> int:
        """Delete dead letters and fail their attempts (a ``failed`` inbox message each)."""
        ids = self._check_ids(entry_ids)
        if not ids:
            return 0
        purged = 0
        at = now_ms()
        for s in self._shards(shard):
            dlq = self.keys.dead_letters(s)
            args: list[bytes | str] = []
            for entry_id in ids:
                rows = await self.redis.xrange(dlq, entry_id, entry_id)
                fields = rows[0][1] if rows else None
                if fields is None:
                    continue
                letter = _letter_of(self.keys, s, entry_id, fields)
                msg = b""
                if letter.job is not None:
                    msg = InboxMessage(
                        type="failed",
                        run=letter.job.run,
                        at_ms=at,
                        node=letter.job.node,
                        token=letter.job.token,
                        error=f"purged from the dead-letter queue after "
                        f"{letter.deliveries} deliveries",
                    ).encode()
                args += [entry_id, msg]
            if args:
                purged += int(await self._purge(keys=[dlq, self.keys.inbox(s)], args=args))
        return purged

    @staticmethod
    def _check_ids(entry_ids: Iterable[str]) -> list[str]:
        ids = [str(i).strip() for i in entry_ids]
        for entry_id in ids:
            if not _STREAM_ID.match(entry_id):
                raise BadRequest(
                    f"{entry_id!r} is not a stream entry id (expected e.g. 1718000000000-0)"
                )
        return ids

    def _shards(self, shard: int | None) -> list[int]:
        if shard is None:
            return list(self.keys.all_shards())
        if shard not in self.keys.all_shards():
            raise BadRequest(f"no shard {shard}: shards are 0..{self.keys.shards - 1}")
        return [shard]

    # -- monitoring --------------------------------------------------------------
    async def depths(self) -> dict[str, Any]:
        """Queue depths: per handler and lane, and per shard (inbox, timers, dlq).

        ``length`` is the backlog (entries are deleted when acknowledged),
        ``pending`` the delivered-but-unacknowledged, ``waiting`` = length - pending,
        ``lag`` what Redis >= 7 reports for the group (None before).
        """
        handlers: dict[str, dict[str, dict[str, Any]]] = {}
        shards: list[dict[str, Any]] = []
        for shard in self.keys.all_shards():
            streams = sorted(
                {
                    as_str(k)
                    async for k in self.redis.scan_iter(
                        match=self.keys.queue_pattern(shard), count=1000, _type="stream"
                    )
                }
            )
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in streams:
                    pipe.xlen(key)
                    pipe.xinfo_groups(key)
                pipe.xlen(self.keys.inbox(shard))
                pipe.zcard(self.keys.timers(shard))
                pipe.xlen(self.keys.dead_letters(shard))
                results = await pipe.execute(raise_on_error=False)
            for n, key in enumerate(streams):
                length, groups = results[2 * n], results[2 * n + 1]
                if isinstance(length, Exception):
                    continue
                group = _group_info(groups)
                pending = int(group.get("pending", 0))
                lag = group.get("lag")
                lane, handler = parse_queue_key(self.keys, shard, key)
                row = handlers.setdefault(handler, {}).setdefault(
                    lane, {"length": 0, "pending": 0, "waiting": 0, "lag": None}
                )
                row["length"] += int(length)
                row["pending"] += pending
                row["waiting"] += max(int(length) - pending, 0)
                if lag is not None:
                    row["lag"] = (row["lag"] or 0) + int(lag)
            inbox, timers, dlq = results[-3:]
            shards.append(
                {"shard": shard, "inbox": _int(inbox), "timers": _int(timers), "dlq": _int(dlq)}
            )
        return {"handlers": handlers, "shards": shards}


def _int(value: Any) -> int:
    return 0 if isinstance(value, Exception) else int(value)


def _group_info(groups: Any) -> dict[str, Any]:
    if isinstance(groups, Exception):
        return {}
    for g in groups:
        info = {as_str(k): v for k, v in g.items()}
        if as_str(info.get("name", b"")) == WORKER_GROUP:
            return info
    return {}


def _letter_of(keys: Keys, shard: int, entry_id: str, fields: dict[Any, Any]) -> DeadLetter:
    f = {as_str(k): v for k, v in fields.items()}
    payload = _b(f.get("d", b""))
    stream = as_str(f.get("stream", b""))
    job: Job | None = None
    message: InboxMessage | None = None
    try:
        if stream == keys.inbox(shard):
            message = InboxMessage.decode(payload)
        else:
            job = Job.decode(payload)
    except (ValueError, KeyError, TypeError):
        pass
    return DeadLetter(
        shard=shard,
        entry_id=entry_id,
        stream=stream,
        original_id=as_str(f.get("id", b"")),
        deliveries=int(f.get("deliveries", 0)),
        at_ms=int(f.get("at", 0)),
        reason=as_str(f.get("reason", b"")),
        payload=payload,
        job=job,
        from_inbox=stream == keys.inbox(shard),
        message=message,
    )
