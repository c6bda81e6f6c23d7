"""``dagq bench sweep``: nodes/s and run time as the work grows.

One orchestrator and ``workers`` worker processes on a fresh Redis (the deployment of
``dagq bench table``), no-op tasks.  Three curves:

* width: a first task, ``w`` parallel tasks, a join (``w + 2`` nodes);
* depth: a chain of ``d`` tasks;
* active runs: ``n`` runs of the 10-task diamond active at once, drained as ``dagq
  bench scale`` does (started before the workers, on a deployment of its own per point):
  nodes/s of the drain and the orchestrator's peak RSS.

For width and depth, ``runs`` runs go ``in_flight`` at a time.  Reported per point: the
run time p50 (each run's recorded start to end) and nodes/s from the first start to the
last end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.bench import scale, workloads
from orchestrator.bench.cluster import DagqCluster
from orchestrator.bench.procs import BenchError, BenchRedis, bench_redis, machine, percentile
from orchestrator.service.runs import RunService
from orchestrator.vocab import RunStatus


async def _runs(
    service: RunService, workflow_id: str, count: int, at_once: int
) -> list[dict[str, Any]]:
    """Start ``count`` runs, ``at_once`` at a time; their metas once all ended."""
    ids: list[str] = []
    todo = iter(range(count))

    async def one_lane() -> None:
        for _ in todo:
            state = await service.start(workflow_id)
            ids.append(state.run_id)
            await service.wait(state.run_id, timeout_s=600)

    await asyncio.gather(*(one_lane() for _ in range(min(at_once, count))))
    metas = await service.runs.load_meta_many(ids)
    bad = [m for m in metas.values() if m["status"] != RunStatus.COMPLETED]
    if bad or len(metas) != count:
        raise BenchError(f"a run of {workflow_id} did not complete")
    return list(metas.values())


def _point(metas: list[dict[str, Any]], nodes: int) -> dict[str, Any]:
    first = min(int(m["start"]) for m in metas)
    last = max(int(m["end"]) for m in metas)
    times = [int(m["end"]) - int(m["start"]) for m in metas]
    return {
        "nodes": nodes,
        "runs": len(metas),
        "run_ms_p50": percentile(times, 0.5),
        "run_ms_p99": percentile(times, 0.99),
        "nodes_per_s": round(nodes * len(metas) / max(0.001, (last - first) / 1000), 1),
    }


async def _sweep(
    server: BenchRedis,
    widths: Sequence[int],
    depths: Sequence[int],
    active: Sequence[int],
    runs: int,
    in_flight: int,
    workers: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    cluster = DagqCluster(server, server.workdir, workers=workers)
    out: dict[str, Any] = {"width": [], "depth": [], "active_runs": []}
    async with cluster:
        cluster.start_orchestrator()
        cluster.start_workers()
        shapes = [("width", w, workloads.fan(w), w + 2) for w in widths]
        shapes += [("depth", d, workloads.chain(d), d) for d in depths]
        for axis, size, spec, nodes in shapes:
            await cluster.store(spec)
            t0 = time.perf_counter()
            point = _point(await _runs(cluster.service, spec["id"], runs, in_flight), nodes)
            point[axis] = size
            out[axis].append(point)
            progress(
                f"{axis} {size}: p50 {point['run_ms_p50']:.0f} ms, "
                f"{point['nodes_per_s']:,.0f} nodes/s ({time.perf_counter() - t0:.1f} s)"
            )
    for n in active:  # a deployment of its own per point, as dagq bench scale
        server.flush()
        drained = await scale.drain_point(server, n, workers, 64, 3600.0, progress)
        point = dict(drained)
        point.update(
            active_runs=n,
            nodes=workloads.DIAMOND_NODES,
            nodes_per_s=drained["busy_nodes_per_s"],  # without the workers' start-up
        )
        out["active_runs"].append(point)
        progress(
            f"{n:,} runs at once: {point['nodes_per_s']:,.0f} nodes/s, orchestrator "
            f"{point['orchestrator_peak_rss_mb']:.0f} MB"
        )
    out["config"] = {"runs": runs, "in_flight": in_flight, "workers": workers}
    return out


def run(
    *,
    widths: Sequence[int] = (1, 10, 100, 500),
    depths: Sequence[int] = (1, 10, 100, 500),
    active: Sequence[int] = (10, 100, 1000, 10_000),
    runs: int = 20,
    in_flight: int = 4,
    workers: int = 2,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """The three curves on a fresh Redis (see the module docstring)."""
    if max([*widths, *depths, 1]) > 998:
        raise BenchError("width and depth are at most 998 (the bench's node limit is 1000)")
    with bench_redis() as server:
        report = asyncio.run(
            _sweep(server, widths, depths, active, runs, in_flight, workers, progress)
        )
        report["machine"] = machine(server.version)
        return report
