"""``dagq bench memory``: Redis memory per finished run, and against finished runs kept.

On a fresh Redis with dagq's default retention (a finished run's state and events are
kept ``workflow.storage.ttl``, 24 h, then expire), one orchestrator and ``workers``
worker processes run batches of the 10-task diamond to completion.  After each batch
the bench reads Redis's ``used_memory`` (and ``MEMORY USAGE`` of one finished run's
keys); the growth divided by the runs is the memory a finished run holds.  The shard's
inbox is left out of that growth and reported beside it: it keeps the last minute of
results, whatever the number of runs kept.  The curve
against the number of finished runs kept is straight: retention is by time, so the
memory a deployment needs is (runs finished per TTL) x (bytes per run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import redis

from orchestrator.bench import workloads
from orchestrator.bench.cluster import DagqCluster
from orchestrator.bench.procs import BenchError, BenchRedis, bench_redis, machine
from orchestrator.service.runs import RunService

_SUBMITTERS = 16


async def _finish(service: RunService, count: int, procs_check: Callable[[], None]) -> str:
    ids: list[str] = []
    todo = iter(range(count))

    async def submitter() -> None:
        for _ in todo:
            ids.append((await service.start(workloads.DIAMOND_ID)).run_id)

    await asyncio.gather(*(submitter() for _ in range(_SUBMITTERS)))
    while await service.runs.active_count() > 0:
        procs_check()
        await asyncio.sleep(0.1)
    return ids[-1]


def _without(server: BenchRedis, inbox: str) -> tuple[int, int]:
    """Redis's ``used_memory`` without the inbox stream, and the inbox's own bytes.

    The inbox holds the results of the last minute (trimmed by the orchestrators): its
    size follows the throughput, not the finished runs kept."""
    client = redis.Redis.from_url(server.url)
    try:
        inbox_bytes = int(client.memory_usage(inbox, samples=0) or 0)
        return int(client.info("memory")["used_memory"]) - inbox_bytes, inbox_bytes
    finally:
        client.close()


def _breakdown(server: BenchRedis, run_id: str) -> dict[str, int]:
    """``MEMORY USAGE`` of every key named after one finished run (by key, the run id
    replaced by ``<run>``)."""
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        return {
            key.replace(run_id, "<run>"): int(client.memory_usage(key, samples=0) or 0)
            for key in client.scan_iter(match=f"*{run_id}*", count=1000)
        }
    finally:
        client.close()


async def _memory(
    server: BenchRedis,
    kept: Sequence[int],
    workers: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    cluster = DagqCluster(server, server.workdir, workers=workers)
    async with cluster:
        cluster.start_orchestrator()
        cluster.start_workers()
        await cluster.store(workloads.diamond())
        service = cluster.service
        await _finish(service, 20, cluster.procs.check)  # warm-up: scripts, groups, caches
        inbox = service.keys.inbox(0)
        base = _without(server, inbox)
        done, rows, last = 20, [], ""
        for target in kept:
            last = await _finish(service, target - done, cluster.procs.check)
            done = target
            used, inbox_bytes = _without(server, inbox)
            rows.append(
                {
                    "finished_runs": target,
                    "used_mb": round(used / 2**20, 1),
                    "bytes_per_run": round((used - base[0]) / (target - 20)),
                    "inbox_kb": round(inbox_bytes / 1024, 1),
                }
            )
            progress(f"{target:,} finished runs kept: {rows[-1]['bytes_per_run']:,} B per run")
        ttl = service.settings.workflow.storage.ttl
        return {
            "bytes_per_finished_run": rows[-1]["bytes_per_run"],
            "one_run_keys_bytes": _breakdown(server, last),
            "by_finished_runs": rows,
            "retention_s": ttl,
            "workers": workers,
        }


def run(
    kept: Sequence[int] = (2000,),
    *,
    workers: int = 2,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Finish runs in batches up to each count of ``kept``; memory per finished run."""
    if not kept or min(kept) <= 20 or list(kept) != sorted(kept):
        raise BenchError("kept must be increasing counts of runs, each above 20")
    with bench_redis() as server:
        report = asyncio.run(_memory(server, kept, workers, progress))
        report["machine"] = machine(server.version)
        return report
