"""``dagq bench table``: the design's Appendix C rows, measured, beside its figures.

For each row (5 linear, 20 branching, 50 parallel, 100 complex, 500 large; see
:func:`~orchestrator.bench.workloads.appendix_c`) a fresh deployment starts (one
``dagq orchestrator`` and ``workers`` worker processes, so peak memory is the row's
own), one warm-up run goes through, then ``repeat`` runs execute one after the
other.  Per row:

* execution time: submit -> the run's end seen by the client (event-driven wait),
  median and worst of the repeats;
* memory: peak RSS of the orchestrator plus the workers (``VmHWM``);
* CPU: CPU seconds of orchestrator + workers + Redis over the repeats, as a share
  of the whole machine (100% = every core busy) and of one core.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.bench import workloads
from orchestrator.bench.cluster import DagqCluster
from orchestrator.bench.procs import BenchError, BenchRedis, bench_redis, machine, tree_stats
from orchestrator.vocab import RunStatus

ROWS = tuple(workloads.APPENDIX_C)


async def _row(server: BenchRedis, nodes: int, repeat: int, workers: int) -> dict[str, Any]:
    spec = workloads.appendix_c(nodes)
    cluster = DagqCluster(server, server.workdir, workers=workers)
    async with cluster:
        cluster.start_orchestrator()
        cluster.start_workers()
        await cluster.store(spec)
        service = cluster.service

        async def one() -> float:
            t0 = time.perf_counter()
            state = await service.start(spec["id"])
            final = await service.wait(state.run_id, timeout_s=120)
            if final.status != RunStatus.COMPLETED:
                raise BenchError(f"{nodes}-node run ended {final.status}: {final.error}")
            return (time.perf_counter() - t0) * 1000

        await one()  # warm-up: imports, caches, connections
        cpu0 = sum(s.cpu_s for s in cluster.stats().values())
        redis0 = tree_stats(server.proc.pid).cpu_s if server.proc else 0.0
        wall0 = time.perf_counter()
        times = [await one() for _ in range(repeat)]
        wall = time.perf_counter() - wall0
        stats = cluster.stats()
        cpu = sum(s.cpu_s for s in stats.values()) - cpu0
        cpu += (tree_stats(server.proc.pid).cpu_s if server.proc else 0.0) - redis0
    ncpu = os.cpu_count() or 1
    name, d_ms, d_mb, d_cpu = workloads.APPENDIX_C.get(nodes, ("Complex DAG", 0, 0, 0))
    return {
        "nodes": nodes,
        "workflow": name,
        "repeat": repeat,
        "execution_ms": {
            "p50": round(statistics.median(times), 1),
            "max": round(max(times), 1),
            "min": round(min(times), 1),
        },
        "memory_mb": {
            "orchestrator": round(stats["orchestrator"].peak_rss_bytes / 2**20, 1),
            "workers": round(stats["workers"].peak_rss_bytes / 2**20, 1),
            "total": round(
                sum(s.peak_rss_bytes for s in stats.values()) / 2**20,
                1,
            ),
        },
        "cpu_pct_machine": round(100 * cpu / wall / ncpu, 1),
        "cpu_pct_one_core": round(100 * cpu / wall, 1),
        "design": {"execution_ms": d_ms, "memory_mb": d_mb, "cpu_pct": d_cpu},
    }


def run(
    rows: Sequence[int] = ROWS,
    *,
    repeat: int = 10,
    workers: int = 2,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Measure every row of ``rows``; the report with the design's figures beside."""
    if repeat < 1:
        raise BenchError("repeat must be at least 1")
    out: list[dict[str, Any]] = []
    with bench_redis() as server:
        for nodes in rows:
            progress(f"{nodes} nodes x {repeat}...")
            server.flush()
            out.append(asyncio.run(_row(server, nodes, repeat, workers)))
        return {
            "rows": out,
            "config": {"repeat": repeat, "workers": workers, "orchestrators": 1},
            "machine": machine(server.version),
        }
