"""The live-worker directory: who is running, and which handlers they offer.

Each worker refreshes ``worker:<id>`` (a hash that expires) and its score in the
``workers`` sorted set every heartbeat.  A worker silent for ``queue.worker_ttl``
is gone, whether it retired cleanly or was killed.  The engine uses
:meth:`LiveWorkers.handlers_offered` to tell a user that no live worker offers a
node's handler (the node waits queued meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.settings import Settings
from orchestrator.store.timers import now_ms


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a live worker announced about itself."""

    worker_id: str
    handlers: tuple[str, ...]
    host: str
    pid: int
    concurrency: int
    started_ms: int
    last_seen_ms: int
    in_flight: int = 0
    processed: int = 0
    resources: dict[str, Any] = field(default_factory=dict)
    """``capacity``, ``reserved`` (memory bytes, cpu cores), ``usage`` (``rss`` bytes and
    ``cpu`` seconds of its isolated handlers' children, ``children``), ``isolation``."""

    def fits(self, memory: int, cpu: float) -> bool:
        """Whether a request could ever run here (a worker that announces no capacity: yes)."""
        capacity = self.resources.get("capacity") or {}
        return bool(memory <= capacity.get("memory", memory) and cpu <= capacity.get("cpu", cpu))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the API and the CLI."""
        return {
            "id": self.worker_id,
            "handlers": list(self.handlers),
            "host": self.host,
            "pid": self.pid,
            "concurrency": self.concurrency,
            "startedMs": self.started_ms,
            "lastSeenMs": self.last_seen_ms,
            "inFlight": self.in_flight,
            "processed": self.processed,
            **self.resources,
        }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LiveWorkers:
    """Announce, list and retire workers."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_ms = max(1, int(settings.queue.worker_ttl * 1000))

    async def announce(
        self,
        worker_id: str,
        handlers: Iterable[str],
        host: str,
        pid: int,
        concurrency: int,
        *,
        started_ms: int | None = None,
        in_flight: int = 0,
        processed: int = 0,
        resources: dict[str, Any] | None = None,
    ) -> None:
        """Record (or refresh) a worker; it counts as live for ``queue.worker_ttl``."""
        at = now_ms()
        key = self.keys.worker(worker_id)
        async with self.redis.pipeline(transaction=True) as tx:
            tx.hset(
                key,
                mapping={
                    "handlers": orjson.dumps(sorted(set(handlers))),
                    "host": host,
                    "pid": pid,
                    "concurrency": concurrency,
                    "started": started_ms if started_ms is not None else at,
                    "seen": at,
                    "in_flight": in_flight,
                    "processed": processed,
                    "res": orjson.dumps(resources or {}),
                },
            )
            # The hash outlives the sorted-set score a little, so a reader that
            # saw the id live still finds its details.
            tx.pexpire(key, self.ttl_ms * 2)
            tx.zadd(self.keys.workers(), {worker_id: at})
            await tx.execute()

    async def live_workers(self, now: int | None = None) -> list[WorkerInfo]:
        """Workers heard from within ``queue.worker_ttl`` of ``now`` (ms), by id."""
        at = now_ms() if now is None else now
        oldest = at - self.ttl_ms
        raw = await self.redis.zrangebyscore(self.keys.workers(), oldest, "+inf")
        ids = [_text(i) for i in raw]
        # Housekeeping: forget the ones that went silent (killed workers never retire).
        await self.redis.zremrangebyscore(self.keys.workers(), "-inf", f"({oldest}")
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.hgetall(self.keys.worker(worker_id))
            rows = await pipe.execute()
        out = []
        for worker_id, row in zip(ids, rows, strict=True):
            info = _parse(worker_id, row)
            if info is not None:
                out.append(info)
        return sorted(out, key=lambda w: w.worker_id)

    async def handlers_offered(self, now: int | None = None) -> dict[str, list[str]]:
        """Handler name -> ids of the live workers offering it."""
        offered: dict[str, list[str]] = {}
        for w in await self.live_workers(now):
            for name in w.handlers:
                offered.setdefault(name, []).append(w.worker_id)
        return offered

    async def retire(self, worker_id: str) -> None:
        """Remove a worker that is leaving."""
        async with self.redis.pipeline(transaction=True) as tx:
            tx.zrem(self.keys.workers(), worker_id)
            tx.delete(self.keys.worker(worker_id))
            await tx.execute()


def _object(raw: Any) -> dict[str, Any]:
    value = orjson.loads(raw)
    return value if isinstance(value, dict) else {}


def _parse(worker_id: str, row: dict[Any, Any]) -> WorkerInfo | None:
    if not row:
        return None
    f = {_text(k): v for k, v in row.items()}
    try:
        handlers = orjson.loads(f.get("handlers", b"[]"))
        return WorkerInfo(
            worker_id=worker_id,
            handlers=tuple(str(h) for h in handlers) if isinstance(handlers, list) else (),
            host=_text(f.get("host", b"")),
            pid=int(f.get("pid", 0)),
            concurrency=int(f.get("concurrency", 0)),
            started_ms=int(f.get("started", 0)),
            last_seen_ms=int(f.get("seen", 0)),
            in_flight=int(f.get("in_flight", 0)),
            processed=int(f.get("processed", 0)),
            resources=_object(f.get("res", b"{}")),
        )
    except (ValueError, TypeError):
        # A hash written by something else under our key: not a worker we know.
        return None
