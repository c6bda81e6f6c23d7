"""A dagq deployment for a benchmark: one ``dagq orchestrator`` process and ``workers``
``dagq worker --no-orchestrator`` processes on the bench's Redis, plus a
:class:`RunService` in this process to submit runs and read them.

Kept apart so the orchestrator's and the workers' memory and CPU can be read
separately (:meth:`DagqCluster.stats`).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from orchestrator.bench.procs import (
    DAGQ_CLI,
    BenchRedis,
    Procs,
    ProcStats,
    bench_settings_overrides,
    dagq_env,
)
from orchestrator.service.runs import RunService
from orchestrator.service.workflows import upsert_workflow
from orchestrator.settings import load_settings
from orchestrator.spec.loader import load_text
from orchestrator.store.connection import Connection, connect


class DagqCluster:
    """Orchestrator and worker subprocesses, and a client-side :class:`RunService`."""

    def __init__(
        self, server: BenchRedis, workdir: Path, *, workers: int = 2, concurrency: int = 64
    ) -> None:
        self.server = server
        self.workdir = workdir
        self.workers = workers
        self.concurrency = concurrency
        self.procs = Procs(workdir)
        self.env = dagq_env(server.url, workdir)
        self._conn: Connection | None = None
        self._service: RunService | None = None

    @property
    def service(self) -> RunService:
        """The in-process run service (after ``async with``)."""
        if self._service is None:
            raise RuntimeError("the cluster is not started")
        return self._service

    def start_orchestrator(self) -> None:
        """Start the ``dagq orchestrator`` process."""
        self.procs.start("orchestrator", [*DAGQ_CLI, "orchestrator"], self.env)
        self.procs.wait_for_log("orchestrator", "orchestrator on ")

    def start_workers(self) -> None:
        """Start the worker processes and wait until each is ready."""
        for i in range(self.workers):
            argv = [*DAGQ_CLI, "worker", "-H", "orchestrator.bench.handlers", "--no-orchestrator"]
            argv += ["-c", str(self.concurrency), "--id", f"bench-{i}", "--grace", "1"]
            self.procs.start(f"worker-{i}", argv, self.env)
        for i in range(self.workers):
            self.procs.wait_for_log(f"worker-{i}", " ready: ")

    async def store(self, spec: dict[str, Any]) -> None:
        """Store (or update) a workflow spec given as raw data."""
        parsed = load_text(orjson.dumps(spec).decode(), filename=f"{spec['id']}.json")
        await upsert_workflow(self.service, parsed)

    def stats(self) -> dict[str, ProcStats]:
        """Peak RSS and CPU seconds so far: ``orchestrator`` and ``workers``."""
        return {
            "orchestrator": self.procs.stats("orchestrator"),
            "workers": self.procs.stats("worker-"),
        }

    async def __aenter__(self) -> DagqCluster:
        settings = load_settings(**bench_settings_overrides(self.server.url, self.workdir))
        self._conn = await connect(settings)
        self._service = RunService(self._conn.redis, self._conn.keys, settings)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.procs.stop()
        if self._conn is not None:
            await self._conn.aclose()
            self._conn = None
            self._service = None
