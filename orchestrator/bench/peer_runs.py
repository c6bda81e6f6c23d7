"""Celery and RQ running the diamond (:mod:`orchestrator.bench.peers`) as
``dagq bench throughput`` measures every peer."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
import redis

from orchestrator.bench import workloads
from orchestrator.bench.procs import BenchError, BenchRedis, Procs, dagq_env
from orchestrator.bench.window import (
    POLL_S,
    SUBMITTERS,
    ThroughputConfig,
    deadline_check,
    iso_ms,
    measure,
    poll_ends,
    timed_submit,
)

# -- Celery -----------------------------------------------------------------------


def run_celery(cfg: ThroughputConfig, server: BenchRedis, workdir: Path) -> dict[str, Any]:
    """``celery worker`` subprocesses running the diamond canvas; the measured rate."""
    from orchestrator.bench import peers

    app = peers.make_celery(server.url)
    # The bench polls the result backend itself, so nothing subscribes to result
    # channels (the flag Celery sets inside its workers) and nothing needs an
    # unsubscribe: an AsyncResult collected after our Redis stopped would otherwise
    # retry that unsubscribe for minutes.
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(True)

    def no_unsubscribe() -> None:  # app.backend is per thread
        app.backend.on_result_fulfilled = lambda result: None

    no_unsubscribe()
    env = dagq_env(server.url, workdir)
    env[peers.URL_ENV] = server.url
    runs = cfg.peer_runs or cfg.runs
    client = redis.Redis.from_url(server.url)
    submitters = ThreadPoolExecutor(SUBMITTERS, initializer=no_unsubscribe)
    with Procs(workdir) as procs, submitters as pool:
        for i in range(cfg.workers):
            argv = [*_celery_cli(), "-A", "orchestrator.bench.peers:celery_app", "worker"]
            argv += ["-P", cfg.celery_pool, "-c", "1", "-Q", peers.CELERY_QUEUE, "-n", f"b{i}@%h"]
            argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
            procs.start(f"celery-worker-{i}", argv, env)
        for i in range(cfg.workers):
            procs.wait_for_log(f"celery-worker-{i}", "ready.")

        def submit(count: int) -> tuple[list[str], float]:
            return timed_submit(
                pool, lambda: str(peers.celery_diamond(app).apply_async().id), count
            )

        def ends(chunk: Sequence[str]) -> list[int | None]:
            metas = client.mget([f"celery-task-meta-{t}" for t in chunk])
            return [
                None if raw is None else _celery_end(tid, raw)
                for tid, raw in zip(chunk, metas, strict=True)
            ]

        def drain(ids: list[str]) -> int:
            return poll_ends(
                ids, ends, timeout_s=cfg.timeout_s, what="Celery canvases", procs=procs
            )

        try:
            result = measure(
                submit, drain, runs=runs, warmup_runs=cfg.warmup_runs, procs=procs, server=server
            )
        finally:
            client.close()
            app.close()
    result["workers"] = cfg.workers
    result["pool"] = cfg.celery_pool
    return result


def _celery_cli() -> list[str]:
    return [sys.executable, "-m", "celery"]


def _celery_end(task_id: str, raw: bytes | str) -> int:
    """``date_done`` of a finished canvas's last task (ms)."""
    meta = orjson.loads(raw)
    if meta["status"] != "SUCCESS":
        raise BenchError(f"celery task {task_id} ended {meta['status']}")
    return iso_ms(meta["date_done"])


# -- RQ ---------------------------------------------------------------------------


def run_rq(cfg: ThroughputConfig, server: BenchRedis, workdir: Path) -> dict[str, Any]:
    """``rq worker`` subprocesses running ``depends_on`` chains; the measured rate."""
    from rq import Queue
    from rq.job import Job
    from rq.registry import FinishedJobRegistry, ReadyJobRegistry

    from orchestrator.bench import peers

    runs = cfg.peer_runs or cfg.runs
    env = dagq_env(server.url, workdir)
    env[peers.URL_ENV] = server.url
    client = redis.Redis.from_url(server.url)
    queue = Queue(peers.RQ_QUEUE, connection=client)
    finished = FinishedJobRegistry(queue=queue)
    ready = ReadyJobRegistry(queue=queue)
    recovered = submitted = 0
    rq_cli = [sys.executable, "-c", "from rq.cli import main; main()"]
    with Procs(workdir) as procs, ThreadPoolExecutor(SUBMITTERS) as pool:
        for i in range(cfg.workers):
            argv = [*rq_cli, "worker", "-u", server.url, "-w", cfg.rq_worker_class]
            argv += ["-n", f"bench-{i}", peers.RQ_QUEUE]
            procs.start(f"rq-worker-{i}", argv, env)
        for i in range(cfg.workers):
            procs.wait_for_log(f"rq-worker-{i}", "Listening on")

        def submit(count: int) -> tuple[list[str], float]:
            return timed_submit(pool, lambda: peers.rq_diamond(queue), count)

        def drain(ids: list[str]) -> int:
            nonlocal recovered, submitted
            submitted += len(ids)
            deadline = time.monotonic() + cfg.timeout_s
            while finished.count < submitted * workloads.DIAMOND_NODES:
                deadline_check(deadline, "RQ jobs", procs)
                time.sleep(POLL_S)
                # RQ 3.0 parks a dependent whose enqueue lost an optimistic-lock race
                # (two of a join's dependencies finishing at once) in its ready
                # registry until a worker's maintenance pass, which runs between jobs
                # every 10 minutes: recover them at once, as that pass would.
                recovered += len(ready.cleanup())
            last = 0
            for i in range(0, len(ids), 500):
                for job in Job.fetch_many(ids[i : i + 500], connection=client):
                    if job is None or job.ended_at is None:
                        raise BenchError("an RQ job finished without an end time")
                    last = max(last, int(job.ended_at.replace(tzinfo=UTC).timestamp() * 1000))
            return last

        try:
            result = measure(
                submit, drain, runs=runs, warmup_runs=cfg.warmup_runs, procs=procs, server=server
            )
        finally:
            client.close()
    result["workers"] = cfg.workers
    result["worker_class"] = cfg.rq_worker_class
    result["recovered_jobs"] = recovered
    return result
