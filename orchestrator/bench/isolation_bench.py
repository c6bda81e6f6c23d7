"""``dagq bench isolation``: what running a handler in a child process costs per job.

Three ways to run the same trivial sync handler, one job after another, as the worker
does (no Redis: only the execution path is timed):

- **thread**: the worker's default, a thread of its pool (``run_in_executor``);
- **pool**: an isolated handler in a reused child (:class:`ProcessPool`: a pickle each way
  over a socket pair, rlimits set and lifted around the call);
- **fork per job**: the same pool retiring each child after one job, so every job forks
  (and the child is reaped in the background).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orchestrator.worker.isolation import IsolationOptions, Limits, ProcessPool
from orchestrator.worker.registry import HandlerContext, HandlerEntry, Registry


def noop(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """The handler measured: returns its input."""
    return {"echo": data.get("n")}


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "jobs": len(ordered),
        "mean_us": statistics.fmean(ordered) * 1e6,
        "p50_us": ordered[len(ordered) // 2] * 1e6,
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
    }


async def _thread(entry: HandlerEntry, ctx: HandlerContext, jobs: int) -> list[float]:
    loop = asyncio.get_running_loop()
    samples = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for n in range(jobs):
            start = time.perf_counter()
            call = functools.partial(contextvars.copy_context().run, entry.fn, {"n": n}, ctx)
            await loop.run_in_executor(pool, call)
            samples.append(time.perf_counter() - start)
    return samples


async def _pooled(
    registry: Registry, entry: HandlerEntry, ctx: HandlerContext, jobs: int, per_child: int
) -> list[float]:
    pool = ProcessPool(registry, IsolationOptions(max_jobs_per_child=per_child), size=1)
    limits = Limits(memory=256 * 1024**2, cpu_seconds=60, open_files=1024)
    samples = []
    try:
        await pool.run(entry, {"n": -1}, ctx, limits)  # the first fork is not a job's cost
        for n in range(jobs):
            start = time.perf_counter()
            await pool.run(entry, {"n": n}, ctx, limits)
            samples.append(time.perf_counter() - start)
    finally:
        await pool.close()
    return samples


async def _run(jobs: int, fork_jobs: int) -> dict[str, Any]:
    registry = Registry()
    entry = registry.register("noop", noop)
    ctx = HandlerContext(run_id="bench", node_id="n", attempt=1, handler="noop")
    thread = _stats(await _thread(entry, ctx, jobs))
    pool = _stats(await _pooled(registry, entry, ctx, jobs, per_child=jobs + 1))
    fork = _stats(await _pooled(registry, entry, ctx, fork_jobs, per_child=1))
    return {"thread": thread, "pool": pool, "fork_per_job": fork}


def run(jobs: int = 2000, fork_jobs: int = 200) -> dict[str, Any]:
    """Time ``jobs`` jobs in a thread and in the pool, ``fork_jobs`` forking each."""
    return asyncio.run(_run(jobs, fork_jobs))
