"""A one-shot stack: orchestrator loop plus workers in this process.

Used by ``dagq run --wait`` so a user with nothing installed but dagq can run a
workflow with one command.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.runs import RunService
from orchestrator.store.connection import Connection
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker


@contextlib.asynccontextmanager
async def local_stack(
    conn: Connection,
    registry: Registry | None,
    *,
    concurrency: int = 8,
    workers: int = 1,
) -> AsyncIterator[RunService]:
    """Run an orchestrator and ``workers`` workers in this process while the block runs."""
    service = RunService(conn.redis, conn.keys, conn.settings)
    stop = asyncio.Event()
    orchestrator = Orchestrator(service)
    await orchestrator.ensure_groups()
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(orchestrator.run(stop))]
    if registry is not None and len(registry):
        for _ in range(workers):
            worker = Worker(conn.redis, conn.keys, conn.settings, registry, concurrency=concurrency)
            tasks.append(asyncio.create_task(worker.run(stop)))
    try:
        yield service
    finally:
        stop.set()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        for result in done:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
