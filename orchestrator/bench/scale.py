"""``dagq bench scale``: many concurrent runs at once, drained.

``runs`` runs of the 10-task diamond are started first, from the submitter processes
of ``dagq bench throughput`` (the orchestrator is up, the workers not yet), so that
many runs are active at the same moment, each with its first job queued.  Then the
workers start and the clock runs until the last run has ended (its recorded end
time).  The drain includes the workers' start-up (``workers_start_s``, reported apart):
a small drain ends before they all say ready.  ``busy_s`` leaves it out: from the first
node started to the last run ended (``busy_nodes_per_s``, what ``dagq bench sweep``
plots).
Reported: submit time, time to drain, nodes/s while draining, peak RSS of the
orchestrator process and of the workers, and Redis's memory with every run active.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from orchestrator.bench import workloads
from orchestrator.bench.cluster import DagqCluster
from orchestrator.bench.dagq_submit import PROCESSES, Submitters
from orchestrator.bench.procs import BenchError, BenchRedis, bench_redis, machine
from orchestrator.vocab import RunStatus


async def drain_point(
    server: BenchRedis,
    runs: int,
    workers: int,
    concurrency: int,
    timeout_s: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """``runs`` runs started (from the submitter processes) before the workers, then
    drained: the report of :func:`run` without the machine."""
    cluster = DagqCluster(server, server.workdir, workers=workers, concurrency=concurrency)
    async with cluster:
        cluster.start_orchestrator()
        await cluster.store(workloads.diamond())
        service = cluster.service
        loop = asyncio.get_running_loop()
        with Submitters(server.url, server.workdir, server.dagq_settings) as submitters:
            ids, submit_s = await loop.run_in_executor(None, submitters.submit, runs)
        active = await service.runs.active_count()
        redis_mb = server.used_memory() / 2**20
        progress(f"{active} runs active ({redis_mb:.0f} MB in Redis); starting workers")
        # The clock starts before the workers do: once started they may drain every run
        # before this process is scheduled again (a loaded machine, a small run count).
        first_ms = int(time.time() * 1000)
        cluster.start_workers()
        workers_start_s = time.time() - first_ms / 1000
        deadline = time.monotonic() + timeout_s
        while await service.runs.active_count() > 0:
            cluster.procs.check()
            if time.monotonic() > deadline:
                raise BenchError(f"{runs} runs did not drain within {timeout_s:g} s")
            await asyncio.sleep(0.1)
        last_ms, failed, busy_ms = 0, 0, 2**62
        for i in range(0, len(ids), 1000):
            loaded = await service.runs.load_many(ids[i : i + 1000])
            for state, _ in loaded.values():
                failed += state.status != RunStatus.COMPLETED
                last_ms = max(last_ms, state.end_ms or 0)
                starts = [n.start_ms for n in state.nodes.values() if n.start_ms]
                busy_ms = min([busy_ms, *starts])
        stats = cluster.stats()
    drain_s = max(0.001, (last_ms - first_ms) / 1000)  # ms clock: a tiny drain is 1 ms
    busy_s = max(0.001, (last_ms - min(busy_ms, last_ms)) / 1000)
    return {
        "runs": runs,
        "active_at_once": active,
        "failed": failed,
        "submit_s": round(submit_s, 2),
        "drain_s": round(drain_s, 3),
        "workers_start_s": round(workers_start_s, 2),
        "nodes_per_s": round(runs * workloads.DIAMOND_NODES / drain_s, 1),
        "busy_s": round(busy_s, 3),
        "busy_nodes_per_s": round(runs * workloads.DIAMOND_NODES / busy_s, 1),
        "orchestrator_peak_rss_mb": round(stats["orchestrator"].peak_rss_bytes / 2**20, 1),
        "workers_peak_rss_mb": round(stats["workers"].peak_rss_bytes / 2**20, 1),
        "redis_used_mb_all_active": round(redis_mb, 1),
        "workers": workers,
        "concurrency": concurrency,
        "submit_processes": PROCESSES,
    }


def run(
    *,
    runs: int = 10_000,
    workers: int = 2,
    concurrency: int = 64,
    timeout_s: float = 900.0,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Start ``runs`` runs, then drain them; the report (see the module docstring)."""
    if runs < 1:
        raise BenchError("runs must be at least 1")
    with bench_redis() as server:
        report = asyncio.run(drain_point(server, runs, workers, concurrency, timeout_s, progress))
        report["machine"] = machine(server.version)
        return report
