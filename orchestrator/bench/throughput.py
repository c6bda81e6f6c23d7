"""``dagq bench throughput``: nodes per second of dagq, Celery and RQ on one Redis.

Each peer runs the same 10-task diamond (:mod:`orchestrator.bench.workloads`,
:mod:`orchestrator.bench.peers`) with no-op tasks, ``workers`` worker processes that
are real subprocesses, on one ``redis-server`` this benchmark starts (flushed between
peers).  Per peer: start the workers, run a warm-up (not measured), then submit
``runs`` runs from this process (8 submitters at once) and measure from the first
submit to the last completion *as the peer recorded it* (dagq: the run's end time;
Celery: ``date_done`` of the chain's last task; RQ: ``ended_at`` of the last job), so
polling granularity does not count.  CPU seconds and peak RSS of the worker processes
(children included) and Redis's CPU seconds are reported beside the rate.

dagq's orchestrator loop runs inside each ``dagq worker`` (``embedded``: the same
number of processes as the peers) or as one extra ``dagq orchestrator`` process
(``separate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import redis

from orchestrator.bench import workloads
from orchestrator.bench.procs import (
    DAGQ_CLI,
    BenchError,
    BenchRedis,
    ExternalRedis,
    Procs,
    bench_redis,
    bench_settings_overrides,
    dagq_env,
    machine,
)
from orchestrator.service.runs import RunService
from orchestrator.service.workflows import upsert_workflow
from orchestrator.settings import load_settings
from orchestrator.spec.loader import load_text
from orchestrator.store.connection import connect, redact_url
from orchestrator.vocab import RunStatus

PEERS = ("dagq", "celery", "rq")
_SUBMITTERS = 8
_POLL_S = 0.05


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
        base: dict[str, Any] = {"runs": 2000, "peer_runs": 300, "warmup_runs": 10}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


def _iso_ms(text: str) -> int:
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:  # RQ and older Celery store naive UTC
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def _redis_cpu_s(server: BenchRedis) -> float:
    return server.cpu_s()


@dataclass
class _Window:
    """CPU of the workers and of Redis over the measured window."""

    procs: Procs
    server: BenchRedis
    cpu0: float = 0.0
    redis0: float = 0.0

    def open(self) -> None:
        self.cpu0 = self.procs.stats().cpu_s
        self.redis0 = _redis_cpu_s(self.server)

    def close(self, result: dict[str, Any]) -> dict[str, Any]:
        stats = self.procs.stats()
        result["workers_cpu_s"] = round(stats.cpu_s - self.cpu0, 2)
        result["redis_cpu_s"] = round(_redis_cpu_s(self.server) - self.redis0, 2)
        result["workers_peak_rss_mb"] = round(stats.peak_rss_bytes / 2**20, 1)
        return result


def _rate(runs: int, first_ms: int, last_ms: int, submit_s: float) -> dict[str, Any]:
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


def _deadline_check(deadline: float, what: str, procs: Procs) -> None:
    procs.check()
    if time.monotonic() > deadline:
        raise BenchError(f"{what} did not finish in time")


# -- dagq -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def diamond_service(server: BenchRedis, workdir: Path) -> AsyncIterator[RunService]:
    """A run service on the bench's Redis, with the diamond workflow stored."""
    settings = load_settings(
        **bench_settings_overrides(server.url, workdir, **server.dagq_settings)
    )
    conn = await connect(settings)
    try:
        service = RunService(conn.redis, conn.keys, settings)
        spec = load_text(orjson.dumps(workloads.diamond()).decode(), filename="diamond.json")
        await upsert_workflow(service, spec)
        yield service
    finally:
        await conn.aclose()


async def _dagq_measure(
    cfg: ThroughputConfig, server: BenchRedis, procs: Procs, workdir: Path
) -> dict[str, Any]:
    async with diamond_service(server, workdir) as service:

        async def submit(count: int) -> tuple[list[str], float]:
            ids: list[str] = []
            todo = iter(range(count))

            async def one_submitter() -> None:
                for _ in todo:
                    state = await service.start(workloads.DIAMOND_ID)
                    ids.append(state.run_id)

            t0 = time.perf_counter()
            await asyncio.gather(*(one_submitter() for _ in range(_SUBMITTERS)))
            return ids, time.perf_counter() - t0

        async def drain(ids: list[str]) -> int:
            deadline = time.monotonic() + cfg.timeout_s
            while await service.runs.active_count() > 0:
                _deadline_check(deadline, "dagq runs", procs)
                await asyncio.sleep(_POLL_S)
            last = 0
            for i in range(0, len(ids), 1000):
                metas = await service.runs.load_meta_many(ids[i : i + 1000])
                for rid in ids[i : i + 1000]:
                    meta = metas.get(rid)
                    if meta is None or meta["status"] != RunStatus.COMPLETED:
                        raise BenchError(f"dagq run {rid} ended {meta and meta['status']}")
                    last = max(last, int(meta["end"]))
            return last

        warm, _ = await submit(cfg.warmup_runs)
        await drain(warm)
        window = _Window(procs, server)
        window.open()
        first_ms = int(time.time() * 1000)
        ids, submit_s = await submit(cfg.runs)
        last_ms = await drain(ids)
        return window.close(_rate(cfg.runs, first_ms, last_ms, submit_s))


def run_dagq(cfg: ThroughputConfig, server: BenchRedis, workdir: Path) -> dict[str, Any]:
    """dagq workers (and orchestrator) as subprocesses; the measured rate."""
    env = dagq_env(server.url, workdir, **server.dagq_settings)
    with Procs(workdir) as procs:
        separate = cfg.orchestrator == "separate"
        for i in range(cfg.workers):
            argv = [*DAGQ_CLI, "worker", "-H", "orchestrator.bench.handlers"]
            argv += ["-c", str(cfg.concurrency), "--id", f"bench-{i}", "--grace", "1"]
            if separate:
                argv.append("--no-orchestrator")
            procs.start(f"dagq-worker-{i}", argv, env)
        if separate:
            procs.start("dagq-orchestrator", [*DAGQ_CLI, "orchestrator"], env)
        for i in range(cfg.workers):
            procs.wait_for_log(f"dagq-worker-{i}", " ready: ")
        result = asyncio.run(_dagq_measure(cfg, server, procs, workdir))
        result["workers"] = cfg.workers
        result["concurrency"] = cfg.concurrency
        result["orchestrator"] = cfg.orchestrator
        return result


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
    submitters = ThreadPoolExecutor(_SUBMITTERS, initializer=no_unsubscribe)
    with Procs(workdir) as procs, submitters as pool:
        for i in range(cfg.workers):
            argv = [*_celery_cli(), "-A", "orchestrator.bench.peers:celery_app", "worker"]
            argv += ["-P", cfg.celery_pool, "-c", "1", "-Q", peers.CELERY_QUEUE, "-n", f"b{i}@%h"]
            argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
            procs.start(f"celery-worker-{i}", argv, env)
        for i in range(cfg.workers):
            procs.wait_for_log(f"celery-worker-{i}", "ready.")

        def submit(count: int) -> tuple[list[str], float]:
            t0 = time.perf_counter()
            ids = list(
                pool.map(lambda _: str(peers.celery_diamond(app).apply_async().id), range(count))
            )
            return ids, time.perf_counter() - t0

        def drain(ids: list[str]) -> int:
            deadline = time.monotonic() + cfg.timeout_s
            todo, last = list(ids), 0
            while todo:
                left = []
                for i in range(0, len(todo), 1000):
                    chunk = todo[i : i + 1000]
                    metas = client.mget([f"celery-task-meta-{t}" for t in chunk])
                    for tid, raw in zip(chunk, metas, strict=True):
                        if raw is None:
                            left.append(tid)
                            continue
                        meta = orjson.loads(raw)
                        if meta["status"] != "SUCCESS":
                            raise BenchError(f"celery task {tid} ended {meta['status']}")
                        last = max(last, _iso_ms(meta["date_done"]))
                todo = left
                if todo:
                    _deadline_check(deadline, "Celery canvases", procs)
                    time.sleep(_POLL_S)
            return last

        try:
            drain(submit(cfg.warmup_runs)[0])
            window = _Window(procs, server)
            window.open()
            first_ms = int(time.time() * 1000)
            ids, submit_s = submit(runs)
            last_ms = drain(ids)
            result = window.close(_rate(runs, first_ms, last_ms, submit_s))
        finally:
            client.close()
            app.close()
    result["workers"] = cfg.workers
    result["pool"] = cfg.celery_pool
    return result


def _celery_cli() -> list[str]:
    return [sys.executable, "-m", "celery"]


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
    recovered = 0
    rq_cli = [sys.executable, "-c", "from rq.cli import main; main()"]
    with Procs(workdir) as procs, ThreadPoolExecutor(_SUBMITTERS) as pool:
        for i in range(cfg.workers):
            argv = [*rq_cli, "worker", "-u", server.url, "-w", cfg.rq_worker_class]
            argv += ["-n", f"bench-{i}", peers.RQ_QUEUE]
            procs.start(f"rq-worker-{i}", argv, env)
        for i in range(cfg.workers):
            procs.wait_for_log(f"rq-worker-{i}", "Listening on")

        def submit(count: int) -> tuple[list[str], float]:
            t0 = time.perf_counter()
            ids = list(pool.map(lambda _: peers.rq_diamond(queue), range(count)))
            return ids, time.perf_counter() - t0

        def drain(ids: list[str], expected: int) -> int:
            nonlocal recovered
            deadline = time.monotonic() + cfg.timeout_s
            while finished.count < expected:
                _deadline_check(deadline, "RQ jobs", procs)
                time.sleep(_POLL_S)
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
            nodes = workloads.DIAMOND_NODES
            drain(submit(cfg.warmup_runs)[0], cfg.warmup_runs * nodes)
            window = _Window(procs, server)
            window.open()
            first_ms = int(time.time() * 1000)
            ids, submit_s = submit(runs)
            last_ms = drain(ids, (cfg.warmup_runs + runs) * nodes)
            result = window.close(_rate(runs, first_ms, last_ms, submit_s))
        finally:
            client.close()
    result["workers"] = cfg.workers
    result["worker_class"] = cfg.rq_worker_class
    result["recovered_jobs"] = recovered
    return result


# -- all together -------------------------------------------------------------------

RUNNERS: dict[str, Callable[[ThroughputConfig, BenchRedis, Path], dict[str, Any]]] = {
    "dagq": run_dagq,
    "celery": run_celery,
    "rq": run_rq,
}


def run(cfg: ThroughputConfig) -> dict[str, Any]:
    """Every peer of ``cfg.peers`` on one fresh Redis; rates, ratios and the machine."""
    unknown = [p for p in cfg.peers if p not in RUNNERS]
    if unknown:
        raise BenchError(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    out: dict[str, Any] = {}
    if cfg.redis_url and list(cfg.peers) != ["dagq"]:
        raise BenchError(
            "--redis-url benchmarks dagq only (--peers dagq): Celery and RQ need a server of "
            "their own to flush, and neither runs on a Redis Cluster"
        )
    server_cm: contextlib.AbstractContextManager[BenchRedis] = (
        _external(cfg.redis_url, cfg.shards, cfg.wait_replicas) if cfg.redis_url else bench_redis()
    )
    with server_cm as server:
        for peer in cfg.peers:
            cfg.progress(f"{peer}: {cfg.workers} worker process(es)...")
            server.flush()
            try:
                out[peer] = RUNNERS[peer](cfg, server, server.workdir)
            except BenchError:
                raise
            except Exception as exc:  # a peer's own error (kombu, rq): one sentence
                raise BenchError(f"{peer} failed: {type(exc).__name__}: {exc}") from exc
            cfg.progress(f"{peer}: {out[peer]['nodes_per_s']:,.0f} nodes/s")
        out["machine"] = machine(server.version)
    dagq = out.get("dagq", {}).get("nodes_per_s")
    out["ratios"] = {
        f"dagq_vs_{p}": round(dagq / out[p]["nodes_per_s"], 2)
        for p in cfg.peers
        if p != "dagq" and dagq and out[p]["nodes_per_s"]
    }
    out["config"] = {
        "dag": "diamond: 1 -> 4 -> join -> chain of 4 (10 no-op tasks)",
        "workers": cfg.workers,
        "runs": cfg.runs,
        "peer_runs": cfg.peer_runs or cfg.runs,
        "warmup_runs": cfg.warmup_runs,
        "dagq_concurrency": cfg.concurrency,
        "dagq_orchestrator": cfg.orchestrator,
        "redis": redact_url(cfg.redis_url) if cfg.redis_url else "a fresh redis-server",
        "shards": cfg.shards,
        "wait_replicas": cfg.wait_replicas,
    }
    return out


@contextlib.contextmanager
def _external(url: str, shards: int, wait_replicas: int) -> Iterator[BenchRedis]:
    workdir = Path(tempfile.mkdtemp(prefix="dagq-bench-"))
    try:
        with ExternalRedis(url, workdir, shards=shards, wait_replicas=wait_replicas) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def sweep(cfg: ThroughputConfig, workers: Sequence[int]) -> list[dict[str, Any]]:
    """:func:`run` once per worker count (for the throughput-against-workers plot)."""
    results = []
    for n in workers:
        cfg.workers = n
        results.append(run(cfg))
    return results
