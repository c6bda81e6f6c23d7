"""dagq's submitters for ``dagq bench throughput``: separate processes.

Starting a dagq run creates a durable run (the pinned spec read and validated, the
state, indexes, first events and first job written by one script): about 1.4 ms of
client CPU, against one message enqueued for a task queue.  One bench process starting
every run was the bound of the measurement (issue 17), not dagq's workers, so the runs
are started from :data:`PROCESSES` processes of their own (as a deployment starts them
from several API processes or clients), :data:`IN_FLIGHT` starts in flight in all, as
many as the peers' submitter threads.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from orchestrator.bench import workloads
from orchestrator.bench.procs import bench_settings_overrides
from orchestrator.bench.window import SUBMITTERS
from orchestrator.service.runs import RunService
from orchestrator.settings import load_settings
from orchestrator.store.connection import connect

PROCESSES = 4
IN_FLIGHT = SUBMITTERS
"""Starts in flight over all the submitter processes."""


def _start_runs(url: str, workdir: str, extra: dict[str, Any], count: int, tasks: int) -> list[str]:
    """In a submitter process: start ``count`` diamond runs, ``tasks`` at a time."""

    async def main() -> list[str]:
        settings = load_settings(**bench_settings_overrides(url, Path(workdir), **extra))
        conn = await connect(settings)
        try:
            service = RunService(conn.redis, conn.keys, settings)
            ids: list[str] = []
            todo = iter(range(count))

            async def one() -> None:
                for _ in todo:
                    ids.append((await service.start(workloads.DIAMOND_ID)).run_id)

            await asyncio.gather(*(one() for _ in range(tasks)))
            return ids
        finally:
            await conn.aclose()

    return asyncio.run(main())


class Submitters:
    """:data:`PROCESSES` processes starting dagq runs on one server; a context manager."""

    def __init__(self, url: str, workdir: Path, extra: dict[str, Any]) -> None:
        self.args = (url, str(workdir), dict(extra))
        self.pool = ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn"))

    def __enter__(self) -> Submitters:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(cancel_futures=True)

    def submit(self, count: int) -> tuple[list[str], float]:
        """Start ``count`` runs spread over the processes; their ids and the seconds taken."""
        shares = [count // PROCESSES + (i < count % PROCESSES) for i in range(PROCESSES)]
        tasks = max(1, IN_FLIGHT // PROCESSES)
        t0 = time.perf_counter()
        futures = [
            self.pool.submit(_start_runs, *self.args, share, tasks) for share in shares if share
        ]
        ids = [rid for f in futures for rid in f.result()]
        return ids, time.perf_counter() - t0
