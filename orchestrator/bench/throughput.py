"""``dagq bench throughput``: nodes per second of dagq, Celery and RQ on one Redis.

Each peer runs the same 10-task diamond (:mod:`orchestrator.bench.workloads`,
:mod:`orchestrator.bench.peers`) with no-op tasks, ``workers`` worker processes that
are real subprocesses, on one ``redis-server`` this benchmark starts (flushed between
peers).  Per peer: start the workers, run a warm-up (not measured), then submit
``runs`` runs (8 at once: the peers from 8 threads of this process, dagq from 4
processes of its own, :mod:`orchestrator.bench.dagq_submit`) and measure from the first
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
import importlib.util
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from orchestrator.bench import ceiling, workloads
from orchestrator.bench.dagq_submit import PROCESSES, Submitters
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
from orchestrator.bench.window import (
    PEERS,
    POLL_S,
    ThroughputConfig,
    Window,
    deadline_check,
    rate,
)
from orchestrator.service.runs import RunService
from orchestrator.service.workflows import upsert_workflow
from orchestrator.settings import load_settings
from orchestrator.spec.loader import load_text
from orchestrator.store.connection import connect, redact_url
from orchestrator.vocab import RunStatus

__all__ = ["PEERS", "ThroughputConfig", "run", "sweep"]


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
    cfg: ThroughputConfig,
    server: BenchRedis,
    procs: Procs,
    workdir: Path,
    submitters: Submitters,
) -> dict[str, Any]:
    async with diamond_service(server, workdir) as service:
        loop = asyncio.get_running_loop()

        async def submit(count: int) -> tuple[list[str], float]:
            return await loop.run_in_executor(None, submitters.submit, count)

        async def drain(ids: list[str]) -> int:
            deadline = time.monotonic() + cfg.timeout_s
            while await service.runs.active_count() > 0:
                deadline_check(deadline, "dagq runs", procs)
                await asyncio.sleep(POLL_S)
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
        window = Window(procs, server)
        window.open()
        first_ms = int(time.time() * 1000)
        ids, submit_s = await submit(cfg.runs)
        last_ms = await drain(ids)
        return window.close(rate(cfg.runs, first_ms, last_ms, submit_s))


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
        with Submitters(server.url, workdir, server.dagq_settings) as submitters:
            result = asyncio.run(_dagq_measure(cfg, server, procs, workdir, submitters))
        result["submit_processes"] = PROCESSES
        result["workers"] = cfg.workers
        result["concurrency"] = cfg.concurrency
        result["orchestrator"] = cfg.orchestrator
        return result


# -- all together -------------------------------------------------------------------

Runner = Callable[[ThroughputConfig, BenchRedis, Path], dict[str, Any]]
# peer -> (the package it needs, "module:function" of its runner), imported when run.
RUNNERS: dict[str, tuple[str | None, str]] = {
    "dagq": (None, f"{__name__}:run_dagq"),
    "celery": ("celery", "orchestrator.bench.peer_runs:run_celery"),
    "rq": ("rq", "orchestrator.bench.peer_runs:run_rq"),
    "dramatiq": ("dramatiq", "orchestrator.bench.dramatiq_run:run_dramatiq"),
    "dbos": ("dbos", "orchestrator.bench.dbos_run:run_dbos"),
}
INSTALL_HINT = "pip install 'dagq[bench]'"


def missing_package(peer: str) -> str | None:
    """The package ``peer`` needs when it is not installed, else None."""
    package = RUNNERS[peer][0]
    if package is None or importlib.util.find_spec(package) is not None:
        return None
    return package


def _runner(peer: str) -> Runner:
    module, _, name = RUNNERS[peer][1].partition(":")
    found: Runner = getattr(importlib.import_module(module), name)
    return found


def _per_node(result: dict[str, Any]) -> None:
    """CPU per node beside the rate: the workers' and the database's, in milliseconds."""
    nodes = max(1, result["nodes"])
    workers = result["workers_cpu_s"] / nodes * 1000
    store = result["redis_cpu_s"] / nodes * 1000
    result["workers_cpu_ms_per_node"] = round(workers, 3)
    result["cpu_ms_per_node"] = round(workers + store, 3)


def run(cfg: ThroughputConfig) -> dict[str, Any]:
    """Every peer of ``cfg.peers`` on one fresh Redis; rates, ratios, the Redis ceiling
    measured on the same server, and the machine.  A peer whose package is missing is
    skipped with a line saying how to install it."""
    unknown = [p for p in cfg.peers if p not in RUNNERS]
    if unknown:
        raise BenchError(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    out: dict[str, Any] = {}
    if cfg.redis_url and list(cfg.peers) != ["dagq"]:
        raise BenchError(
            "--redis-url benchmarks dagq only (--peers dagq): the peers need a server of "
            "their own to flush, and none runs on a Redis Cluster"
        )
    skipped: dict[str, str] = {}
    for peer in cfg.peers:
        package = missing_package(peer)
        if package is not None:
            skipped[peer] = f"{package} is not installed: {INSTALL_HINT}"
            cfg.progress(f"{peer}: skipped, {skipped[peer]}")
    server_cm: contextlib.AbstractContextManager[BenchRedis] = (
        _external(cfg.redis_url, cfg.shards, cfg.wait_replicas) if cfg.redis_url else bench_redis()
    )
    with server_cm as server:
        for peer in cfg.peers:
            if peer in skipped:
                continue
            cfg.progress(f"{peer}: {cfg.workers} worker process(es)...")
            server.flush()
            try:
                out[peer] = _runner(peer)(cfg, server, server.workdir)
            except BenchError:
                raise
            except Exception as exc:  # a peer's own error (kombu, rq): one sentence
                raise BenchError(f"{peer} failed: {type(exc).__name__}: {exc}") from exc
            _per_node(out[peer])
            cfg.progress(f"{peer}: {out[peer]['nodes_per_s']:,.0f} nodes/s")
        if cfg.ceiling_completions and not cfg.redis_url:
            cfg.progress("the Redis ceiling of this machine...")
            out["ceiling"] = ceiling.measure(
                server, ceiling.CeilingConfig(completions=cfg.ceiling_completions)
            )
        out["machine"] = machine(server.version)
    dagq = out.get("dagq", {}).get("nodes_per_s")
    if dagq and "ceiling" in out:
        out["dagq"]["ceiling_fraction"] = round(dagq / out["ceiling"]["completions_per_s"], 4)
    ran = [p for p in cfg.peers if p in out]
    out["ratios"] = {
        f"dagq_vs_{p}": round(dagq / out[p]["nodes_per_s"], 2)
        for p in ran
        if p != "dagq" and dagq and out[p]["nodes_per_s"]
    }
    if skipped:
        out["skipped"] = skipped
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
