"""Real ``dagq`` processes for the trigger tests, and a run service beside them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.service.runs import RunService
from orchestrator.service.schedules import ScheduleService
from orchestrator.settings import Settings, load_settings
from orchestrator.spec.model import WorkflowSpec
from orchestrator.spec.schedule import ScheduleSpec
from tests.integration.test_faults import Processes

WAITING_ID = "nightly-report"
WAITING: dict[str, Any] = {
    "id": WAITING_ID,
    "name": "Nightly report",
    "nodes": [{"id": "report", "type": "task", "handler": "report"}],
}
"""A workflow no worker offers: its runs stay active until cancelled."""


@dataclass
class Triggers:
    """The subprocesses, the schedules service and Redis of one test."""

    procs: Processes
    service: RunService
    schedules: ScheduleService
    redis: aioredis.Redis
    keys: Keys

    async def schedule(self, **fields: Any) -> ScheduleSpec:
        """Create a schedule of the waiting workflow."""
        spec = ScheduleSpec.model_validate({"workflow_id": WAITING_ID, **fields})
        await self.schedules.save(spec, create=True)
        return spec

    async def outcomes(self, schedule_id: str) -> list[dict[str, Any]]:
        """Outcomes oldest first."""
        return list(reversed(await self.schedules.store.outcomes(schedule_id, 1000)))

    async def started(self, schedule_id: str) -> list[dict[str, Any]]:
        """Outcomes that started a run, oldest first."""
        return [o for o in await self.outcomes(schedule_id) if o["status"] == "started"]

    async def runs(self) -> list[dict[str, Any]]:
        """Meta of every run of the waiting workflow."""
        ids, _ = await self.service.runs.run_ids(workflow_id=WAITING_ID, limit=10_000)
        return list((await self.service.runs.load_meta_many(ids)).values())


@pytest.fixture
def trigger_env(redis_url: str, key_prefix: str, tmp_path: Path) -> dict[str, str]:
    """Environment of the subprocesses (short outage detection)."""
    return {
        **os.environ,
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
        "DAGQ_DATA_DIR": str(tmp_path / "data"),
        "DAGQ_TRIGGERS__OUTAGE_AFTER": "2",
    }


@pytest.fixture
def processes(trigger_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    """Subprocesses stopped at the end of the test."""
    procs = Processes(trigger_env, tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
async def triggers(
    processes: Processes, redis_client: aioredis.Redis, redis_url: str, key_prefix: str,
    tmp_path: Path,
) -> AsyncIterator[Triggers]:  # fmt: skip
    """The waiting workflow stored, and the services to drive schedules."""
    settings: Settings = load_settings(
        redis_url=redis_url,
        data_dir=tmp_path / "data",
        workflow={"storage": {"prefix": key_prefix}},
        triggers={"outage_after": 2},
    )
    keys = Keys(prefix=key_prefix)
    service = RunService(redis_client, keys, settings)
    await service.workflows.create(WorkflowSpec.model_validate(WAITING))
    yield Triggers(processes, service, ScheduleService(service), redis_client, keys)
