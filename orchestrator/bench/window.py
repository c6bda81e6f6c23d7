"""What every peer's throughput run shares: the configuration, the measured window
(CPU of the workers and of Redis), the rate, the deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from orchestrator.bench import workloads
from orchestrator.bench.procs import BenchError, BenchRedis, Procs

PEERS = ("dagq", "celery", "rq", "dramatiq", "dbos")
SUBMITTERS = 8
POLL_S = 0.05
_CHUNK = 1000
T = TypeVar("T")


@dataclass
class ThroughputConfig:
    """What to run; the defaults are the full benchmark, :meth:`quick` the short one."""

    workers: int = 2
    runs: int = 3000
    peer_runs: int | None = None
    """Runs for Celery and RQ (default: ``runs``)."""
    concurrency: int = 64
    """Jobs in flight per dagq worker process (asyncio)."""
    warmup_runs: int = 30
    peers: Sequence[str] = PEERS
    orchestrator: Literal["embedded", "separate"] = "embedded"
    timeout_s: float = 600.0
    rq_worker_class: str = "rq.worker.SimpleWorker"
    """RQ's forking default runs each job in a new process (far slower); the
    non-forking worker is RQ's best case for no-op jobs."""
    celery_pool: str = "solo"
    ceiling_completions: int = 200_000
    """Completions per client count of the Redis ceiling measured after the peers
    (0: not measured)."""
    dbos_database: Literal["auto", "sqlite", "postgres"] = "auto"
    """DBOS's system database: SQLite (its local default) or a PostgreSQL the bench
    starts on a free port (``auto``: PostgreSQL when installed)."""
    progress: Callable[[str], None] = field(default=lambda _msg: None)
    redis_url: str | None = None
    """A Redis (or ``redis+cluster://``) of the user's instead of a fresh server: dagq only,
    under a key prefix of its own, never flushed."""
    shards: int = 1
    """``queue.shards`` of dagq on ``redis_url`` (spread the runs over a cluster's masters)."""
    wait_replicas: int = 0
    """``redis.wait_replicas`` of dagq on ``redis_url`` (what WAIT costs)."""

    @classmethod
    def quick(cls, **overrides: Any) -> ThroughputConfig:
        """A configuration that finishes in well under a minute."""
        base: dict[str, Any] = {
            "runs": 2000,
            "peer_runs": 300,
            "warmup_runs": 10,
            "ceiling_completions": 100_000,
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


def iso_ms(text: str) -> int:
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:  # RQ and older Celery store naive UTC
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def redis_cpu_s(server: BenchRedis) -> float:
    return server.cpu_s()


@dataclass
class Window:
    """CPU of the workers and of Redis over the measured window."""

    procs: Procs
    server: BenchRedis
    cpu0: float = 0.0
    redis0: float = 0.0

    def open(self) -> None:
        self.cpu0 = self.procs.stats().cpu_s
        self.redis0 = redis_cpu_s(self.server)

    def close(self, result: dict[str, Any]) -> dict[str, Any]:
        stats = self.procs.stats()
        result["workers_cpu_s"] = round(stats.cpu_s - self.cpu0, 2)
        result["redis_cpu_s"] = round(redis_cpu_s(self.server) - self.redis0, 2)
        result["workers_peak_rss_mb"] = round(stats.peak_rss_bytes / 2**20, 1)
        return result


def rate(runs: int, first_ms: int, last_ms: int, submit_s: float) -> dict[str, Any]:
    seconds = max(0.001, (last_ms - first_ms) / 1000)
    nodes = runs * workloads.DIAMOND_NODES
    return {
        "runs": runs,
        "nodes": nodes,
        "seconds": round(seconds, 3),
        "submit_s": round(submit_s, 3),
        "nodes_per_s": round(nodes / seconds, 1),
        "nodes_per_min": round(nodes / seconds * 60),
    }


def deadline_check(deadline: float, what: str, procs: Procs) -> None:
    procs.check()
    if time.monotonic() > deadline:
        raise BenchError(f"{what} did not finish in time")


def timed_submit(
    pool: ThreadPoolExecutor, one: Callable[[], T], count: int
) -> tuple[list[T], float]:
    """``count`` calls of ``one`` on the submitter threads: what each returned, and the
    seconds they took."""
    t0 = time.perf_counter()
    handles = list(pool.map(lambda _: one(), range(count)))
    return handles, time.perf_counter() - t0


def poll_ends(
    handles: Sequence[T],
    ends: Callable[[Sequence[T]], Sequence[int | None]],
    *,
    timeout_s: float,
    what: str,
    procs: Procs,
) -> int:
    """Poll until every run has ended; the latest end (ms).

    ``ends`` answers, for a chunk of up to 1,000 handles, each run's recorded end time
    (ms) or None while it runs (and raises :class:`BenchError` for a run that failed)."""
    deadline = time.monotonic() + timeout_s
    todo, last = list(handles), 0
    while todo:
        left: list[T] = []
        for i in range(0, len(todo), _CHUNK):
            chunk = todo[i : i + _CHUNK]
            for handle, end in zip(chunk, ends(chunk), strict=True):
                if end is None:
                    left.append(handle)
                else:
                    last = max(last, end)
        todo = left
        if todo:
            deadline_check(deadline, what, procs)
            time.sleep(POLL_S)
    return last


def measure(
    submit: Callable[[int], tuple[list[T], float]],
    drain: Callable[[list[T]], int],
    *,
    runs: int,
    warmup_runs: int,
    procs: Procs,
    server: BenchRedis,
) -> dict[str, Any]:
    """A peer's measured window: a warm-up (not measured), then ``runs`` submitted and
    drained; the rate from the first submit to the last recorded end, with the CPU of
    the workers and of Redis meanwhile.

    ``submit(count)`` gives the runs' handles and the seconds it took; ``drain(handles)``
    waits for them and gives the latest end (ms)."""
    drain(submit(warmup_runs)[0])
    window = Window(procs, server)
    window.open()
    first_ms = int(time.time() * 1000)
    handles, submit_s = submit(runs)
    last_ms = drain(handles)
    return window.close(rate(runs, first_ms, last_ms, submit_s))
