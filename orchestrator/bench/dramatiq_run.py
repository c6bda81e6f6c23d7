"""Dramatiq running the diamond (:mod:`orchestrator.bench.dramatiq_peer`) as
``dagq bench throughput`` measures every peer.

Best documented configuration: ``dramatiq`` worker processes (``--processes N``, its
default 8 threads each), the Redis broker, the Redis results backend and group
callbacks.  The submitter builds each DAG's messages (so it knows the last one's id)
and enqueues the first task; the clock stops at the latest end time the last tasks
stored as their results.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results.backends import RedisBackend

from orchestrator.bench import dramatiq_peer as peer
from orchestrator.bench.procs import BenchError, BenchRedis, Procs, dagq_env
from orchestrator.bench.window import (
    SUBMITTERS,
    ThroughputConfig,
    measure,
    poll_ends,
    timed_submit,
)

THREADS = 8


def _message(actor: str, **options: Any) -> dramatiq.Message[Any]:
    return dramatiq.Message(
        queue_name=peer.QUEUE, actor_name=actor, args=(), kwargs={}, options=options
    )


def submit_diamond(broker: RedisBroker) -> dramatiq.Message[Any]:
    """Enqueue one DAG; the message of its last task (its result is the end time)."""
    last = _message(peer.LAST, pipe_ignore=True, store_results=True)
    tail = dramatiq.pipeline(
        [_message(peer.NOOP, pipe_ignore=True) for _ in range(4)] + [last], broker=broker
    )
    broker.enqueue(_message(peer.FIRST).copy(args=(tail.messages[0].asdict(),)))
    return tail.messages[-1]


def run_dramatiq(cfg: ThroughputConfig, server: BenchRedis, workdir: Path) -> dict[str, Any]:
    """``dramatiq`` worker subprocesses running the diamond; the measured rate."""
    env = dagq_env(server.url, workdir)
    env[peer.URL_ENV] = server.url
    runs = cfg.peer_runs or cfg.runs
    broker = RedisBroker(url=server.url)
    results = RedisBackend(url=server.url)
    argv = [sys.executable, "-m", "dramatiq", peer.__name__, "--processes", str(cfg.workers)]
    argv += ["--threads", str(THREADS), "--queues", peer.QUEUE]
    with Procs(workdir) as procs, ThreadPoolExecutor(SUBMITTERS) as pool:
        procs.start("dramatiq", argv, env)
        procs.wait_for_log("dramatiq", "Worker process is ready for action.")

        def submit(count: int) -> tuple[list[dramatiq.Message[Any]], float]:
            return timed_submit(pool, lambda: submit_diamond(broker), count)

        def ends(chunk: Sequence[dramatiq.Message[Any]]) -> list[int | None]:
            with results.client.pipeline(transaction=False) as pipe:
                for msg in chunk:
                    pipe.lindex(results.build_message_key(msg), 0)
                raws = pipe.execute()
            return [None if raw is None else _end(results, raw) for raw in raws]

        def drain(lasts: list[dramatiq.Message[Any]]) -> int:
            return poll_ends(
                lasts, ends, timeout_s=cfg.timeout_s, what="Dramatiq DAGs", procs=procs
            )

        try:
            result = measure(
                submit,
                drain,
                runs=runs,
                warmup_runs=cfg.warmup_runs,
                procs=procs,
                server=server,
            )
        finally:
            broker.close()
            results.client.close()
    result["workers"] = cfg.workers
    result["threads"] = THREADS
    return result


def _end(results: RedisBackend, raw: bytes) -> int:
    """The end time the DAG's last task stored as its result."""
    value = results.unwrap_result(results.encoder.decode(raw))
    if not isinstance(value, int):
        raise BenchError(f"dramatiq DAG ended with {value!r}")
    return value
