"""DBOS running the diamond (:mod:`orchestrator.bench.dbos_peer`) as
``dagq bench throughput`` measures every peer.

Best documented configuration for one machine: the system database on SQLite (DBOS's
local default) or on a PostgreSQL the bench starts on a free port (the default when
PostgreSQL's server programs are installed: the configuration DBOS recommends beyond
development), ``workers`` executor processes dequeuing one queue (64 workflows in flight
each, polled every 50 ms), workflows enqueued with ``DBOSClient``.  The clock stops at
the latest end time the workflows returned.  DBOS keeps its state in that database, not
in Redis: its "db cpu s" is PostgreSQL's CPU (SQLite runs inside the executors, whose
CPU is the workers').
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dbos import DBOSClient, EnqueueOptions

from orchestrator.bench import dbos_peer as peer
from orchestrator.bench.procs import BenchError, BenchRedis, Procs, dagq_env, free_port, tree_stats
from orchestrator.bench.window import (
    POLL_S,
    SUBMITTERS,
    ThroughputConfig,
    deadline_check,
    rate,
)


def database(cfg: ThroughputConfig) -> str:
    """``auto``: PostgreSQL when its server programs are installed, else SQLite."""
    if cfg.dbos_database != "auto":
        return cfg.dbos_database
    return "postgres" if shutil.which("initdb") and shutil.which("pg_ctl") else "sqlite"


@contextlib.contextmanager
def postgres() -> Iterator[tuple[str, int]]:
    """A throw-away PostgreSQL cluster on a free port: (its URL, the server's pid).

    ``initdb`` and ``postgres`` refuse to run as root: as root they run as the
    ``postgres`` user (Debian's packages create it)."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        raise BenchError(
            "DBOS on PostgreSQL needs initdb and pg_ctl on PATH (apt install postgresql)"
        )
    as_user: list[str] = []
    # A folder of its own: the bench's work folder is private to this (maybe root) user.
    data = Path(tempfile.mkdtemp(prefix="dagq-bench-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(data, "postgres")
    port = free_port()
    run = lambda argv: subprocess.run([*as_user, *argv], capture_output=True, text=True)  # noqa: E731
    out = run([initdb, "-D", str(data), "--no-sync", "--auth=trust", "-U", "postgres"])
    if out.returncode:
        raise BenchError(f"initdb failed: {out.stderr.strip()[-300:]}")
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    out = run([pg_ctl, "-D", str(data), "-o", opts, "-l", str(data / "log"), "-w", "start"])
    if out.returncode:
        raise BenchError(f"PostgreSQL did not start: {out.stderr.strip()[-300:]}")
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield f"postgresql://postgres@127.0.0.1:{port}/dagq_bench", pid
    finally:
        run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(data, ignore_errors=True)


def run_dbos(cfg: ThroughputConfig, server: BenchRedis, workdir: Path) -> dict[str, Any]:
    """DBOS executor subprocesses running the diamond workflow; the measured rate."""
    del server  # DBOS keeps its state in its own database
    folder = workdir / f"dbos-{time.monotonic_ns()}"
    folder.mkdir()
    with contextlib.ExitStack() as stack:
        if database(cfg) == "postgres":
            url, db_pid = stack.enter_context(postgres())
        else:
            url, db_pid = f"sqlite:///{folder / 'dbos.sqlite'}", None
        result = _measure(cfg, url, db_pid, folder)
    result["database"] = database(cfg)
    return result


def _measure(cfg: ThroughputConfig, url: str, db_pid: int | None, folder: Path) -> dict[str, Any]:
    runs = cfg.peer_runs or cfg.runs
    env = dagq_env("redis://unused", folder)
    env[peer.URL_ENV] = url
    argv = [sys.executable, "-m", peer.__name__]
    with Procs(folder) as procs, ThreadPoolExecutor(SUBMITTERS) as pool:
        # One after the other: the first creates the system database's schema.
        for i in range(cfg.workers):
            procs.start(f"dbos-{i}", argv, {**env, "DBOS__VMID": f"bench-{i}"})
            procs.wait_for_log(f"dbos-{i}", "dbos executor ready")
        client = DBOSClient(system_database_url=url)

        def submit(prefix: str, count: int) -> float:
            t0 = time.perf_counter()

            def one(i: int) -> None:
                options: EnqueueOptions = {
                    "queue_name": peer.QUEUE,
                    "workflow_name": peer.WORKFLOW,
                    "workflow_id": f"{prefix}{i}",
                }
                client.enqueue(options)

            list(pool.map(one, range(count)))
            return time.perf_counter() - t0

        def drain(prefix: str, count: int) -> int:
            deadline = time.monotonic() + cfg.timeout_s
            while True:
                rows = client.list_workflows(
                    workflow_id_prefix=prefix, status=["SUCCESS", "ERROR"], load_input=False
                )
                if len(rows) >= count:
                    break
                deadline_check(deadline, "DBOS workflows", procs)
                time.sleep(POLL_S)
            failed = [r for r in rows if r.status != "SUCCESS"]
            if failed:
                raise BenchError(f"DBOS workflow {failed[0].workflow_id} ended {failed[0].status}")
            return max(int(r.output or 0) for r in rows)

        def db_cpu() -> float:
            return tree_stats(db_pid).cpu_s if db_pid else 0.0

        try:
            submit("w-", cfg.warmup_runs)
            drain("w-", cfg.warmup_runs)
            cpu0, db0 = procs.stats().cpu_s, db_cpu()
            first_ms = int(time.time() * 1000)
            submit_s = submit("m-", runs)
            last_ms = drain("m-", runs)
            stats = procs.stats()
            result = rate(runs, first_ms, last_ms, submit_s)
            result["workers_cpu_s"] = round(stats.cpu_s - cpu0, 2)
            result["redis_cpu_s"] = round(db_cpu() - db0, 2)
            result["workers_peak_rss_mb"] = round(stats.peak_rss_bytes / 2**20, 1)
        finally:
            client.destroy()
    result["workers"] = cfg.workers
    result["concurrency"] = peer.CONCURRENCY
    return result
