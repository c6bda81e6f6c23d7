"""``GET /queues`` and ``/metrics`` show each worker's capacity, what its running attempts
reserved, and what its isolated handlers' child processes use."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from orchestrator.worker.capacity import Capacity
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api
from tests.conftest import until

MIB = 1024**2


def hold(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Holds 64 MiB until the file named in its input appears (runs in a child process)."""
    ballast = bytearray(64 * MIB)
    release = Path(data["release"])
    while not release.exists():
        time.sleep(0.02)
    return {"held": len(ballast)}


async def test_queues_and_metrics_show_capacity_reservations_and_usage(
    api: Api, tmp_path: Path
) -> None:
    registry = Registry()
    registry.register("hold", hold, isolation="process")
    stop = asyncio.Event()
    worker = Worker(
        api.conn.redis, api.conn.keys, api.settings, registry, concurrency=2,
        capacity=Capacity(1024 * MIB, 2.0), worker_id="res-worker",
    )  # fmt: skip
    task = asyncio.create_task(worker.run(stop))
    release = tmp_path / "release"
    spec = {
        "id": "holder",
        "name": "Holder",
        "nodes": [{"id": "h", "type": "task", "handler": "hold",
                   "input": {"release": str(release)},
                   "resources": {"memory": "768MiB", "cpu": 0.5}}],
    }  # fmt: skip
    admin = api.auth("admin")
    assert (await api.client.post("/api/v1/workflows", json=spec, headers=admin)).status == 201
    started = await api.client.post("/api/v1/workflows/holder/runs", json={}, headers=admin)
    run_id = (await started.json())["runId"]

    async def mine() -> dict[str, Any]:
        queues = await (await api.client.get("/api/v1/queues", headers=admin)).json()
        [found] = [w for w in queues["workers"] if w["id"] == "res-worker"]
        return dict(found)

    async def holding() -> bool:
        w = await mine()
        return bool(w["reserved"]["memory"] == 768 * MIB and w["usage"]["rss"] > 64 * MIB)

    try:
        await until(holding, "the worker to announce the running attempt's reservation")
        w = await mine()
        assert w["capacity"] == {"memory": 1024 * MIB, "cpu": 2.0}
        assert w["reserved"]["cpu"] == 0.5
        assert w["usage"]["children"] == 1 and w["isolation"] == "thread"
        text = await (await api.client.get("/metrics")).text()
        assert 'dagq_worker_reserved{resource="memory",worker="res-worker"} 8.05306368e+08' in text
        assert 'dagq_worker_capacity{resource="cpu",worker="res-worker"} 2.0' in text
        assert 'dagq_worker_children_rss_bytes{worker="res-worker"}' in text

        release.touch()

        async def released() -> bool:
            w = await mine()
            return bool(w["reserved"] == {"memory": 0, "cpu": 0.0})

        await until(released, "the reservation to be given back")
        run = await (await api.client.get(f"/api/v1/runs/{run_id}", headers=admin)).json()
        assert run["status"] == "completed"
    finally:
        release.touch()
        stop.set()
        await task
