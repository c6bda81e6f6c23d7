"""Queue depth limits: starts are refused with 429 and Retry-After while the queues are too
deep (globally, or for one workflow), and accepted again once they drain."""

from __future__ import annotations

import asyncio
from typing import Any

from orchestrator.settings import Settings
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api, AppFactory, make_settings
from tests.conftest import until

ONE = {"id": "one", "name": "One", "nodes": [{"id": "a", "type": "task", "handler": "nobody"}]}


async def _start(api: Api, workflow_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    resp = await api.client.post(
        f"/api/v1/workflows/{workflow_id}/runs", json={}, headers=api.auth("operator")
    )
    return resp.status, await resp.json(), dict(resp.headers)


async def test_the_global_limit_refuses_starts_with_retry_after(
    make_api: AppFactory, redis_url: str, key_prefix: str, settings: Settings
) -> None:
    limited = make_settings(
        redis_url, key_prefix, settings.data_dir,
        execution={"max_queued_nodes": 2, "queue_full_retry_after": "7s"},
    )  # fmt: skip
    api = await make_api(limited)
    resp = await api.client.post("/api/v1/workflows", json=ONE, headers=api.auth("designer"))
    assert resp.status == 201
    assert (await _start(api, "one"))[0] == 201
    assert (await _start(api, "one"))[0] == 201  # two jobs queued, nobody serves them
    status, err, headers = await _start(api, "one")
    assert status == 429, err
    assert err["error"] == "QUEUE_FULL"
    assert "max_queued_nodes" in err["message"] and "2" in err["message"]
    assert headers["Retry-After"] == "7"
    runs = await (await api.client.get("/api/v1/runs", headers=api.auth("operator"))).json()
    assert len(runs["runs"]) == 2

    # A worker drains the queue: starts are accepted again (once the measure is renewed).
    registry = Registry()
    registry.register("nobody", lambda data, ctx: {})
    stop = asyncio.Event()
    worker = Worker(api.conn.redis, api.conn.keys, limited, registry, concurrency=2)
    task = asyncio.create_task(worker.run(stop))
    try:

        async def accepted() -> bool:
            return (await _start(api, "one"))[0] == 201

        await until(accepted, "a start accepted once the queue drained")
    finally:
        stop.set()
        await task


async def test_a_workflows_own_limit_leaves_other_workflows_alone(api: Api) -> None:
    limited = {**ONE, "id": "capped", "config": {"maxQueuedNodes": 1}}
    for spec in (limited, ONE):
        resp = await api.client.post("/api/v1/workflows", json=spec, headers=api.auth("designer"))
        assert resp.status == 201, await resp.text()
    assert (await _start(api, "capped"))[0] == 201
    status, err, headers = await _start(api, "capped")
    assert status == 429 and err["error"] == "QUEUE_FULL"
    assert "'capped' has 1 nodes queued or running" in err["message"]
    assert headers["Retry-After"] == "5"
    assert (await _start(api, "one"))[0] == 201
    assert (await _start(api, "one"))[0] == 201
