"""Handler logs in Redis: one stream entry per attempt, under the run's hash tag.

The worker appends an attempt's lines (see ``worker.capture``) in the same round trip
that reports its result; the stream expires ``workflow.storage.ttl`` plus the longest a
run may last (``resource_limits.max_workflow_duration``) after its last entry, so it
outlives the run it belongs to by at most one run's length, never the other way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from orchestrator.keys import Keys

MAX_ATTEMPTS_KEPT = 10_000
"""Attempts whose logs a run keeps (the stream's approximate MAXLEN)."""


@dataclass(frozen=True, slots=True)
class AttemptLogEntry:
    """What one attempt of a node logged and printed."""

    id: str
    """The stream id: pass it back as ``since`` to read what came after."""
    node: str
    attempt: int
    token: str
    worker: str
    kind: str
    outcome: str
    started_ms: int
    ended_ms: int
    dropped: int
    lines: list[tuple[int, str, str]]
    """``(at ms, level, text)``; level is a logging level name, ``stdout`` or ``stderr``."""

    @classmethod
    def decode(cls, entry_id: str, raw: bytes | str) -> AttemptLogEntry | None:
        """The entry, or None when it is not one of ours."""
        try:
            d = orjson.loads(raw)
            lines = [(int(at), str(level), str(text)) for at, level, text in d.get("lines", [])]
            return cls(
                id=entry_id,
                node=str(d["node"]),
                attempt=int(d.get("attempt", 0)),
                token=str(d.get("token", "")),
                worker=str(d.get("worker", "")),
                kind=str(d.get("kind", "task")),
                outcome=str(d.get("outcome", "")),
                started_ms=int(d.get("started", 0)),
                ended_ms=int(d.get("ended", 0)),
                dropped=int(d.get("dropped", 0)),
                lines=lines,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


class AttemptLogs:
    """Append (in a caller's pipeline) and read a run's handler logs."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, *, ttl_s: float) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_s = max(1, int(ttl_s))

    def append(self, pipe: Any, run_id: str, payload: bytes) -> None:
        """Queue the writes of one attempt's payload on ``pipe`` (a pipeline)."""
        key = self.keys.run_logs(run_id)
        pipe.xadd(key, {"d": payload}, maxlen=MAX_ATTEMPTS_KEPT, approximate=True)
        pipe.expire(key, self.ttl_s)

    async def read(
        self, run_id: str, *, node: str | None = None, after: str | None = None, count: int = 100
    ) -> tuple[list[AttemptLogEntry], str | None]:
        """Up to ``count`` entries after ``after`` (oldest first), only ``node``'s when given;
        and the last id read (the ``after`` of the next page, also when none matched)."""
        start = f"({after}" if after else "-"
        raw = await self.redis.xrange(self.keys.run_logs(run_id), start, "+", count=count)
        entries: list[AttemptLogEntry] = []
        last = after
        for entry_id, fields in raw or []:
            last = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            data = (fields or {}).get(b"d") or (fields or {}).get("d")
            entry = AttemptLogEntry.decode(last, data) if data is not None else None
            if entry is not None and (node is None or entry.node == node):
                entries.append(entry)
        return entries, last
