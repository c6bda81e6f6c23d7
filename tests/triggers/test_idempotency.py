"""Idempotency-Key on start: one run per key, whatever the concurrency and the replica."""

from __future__ import annotations

import asyncio
from typing import Any

from orchestrator.settings import Settings
from tests.api.conftest import Api, AppFactory, pipeline_spec


async def _start(api: Api, key: str | None, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = api.auth("operator")
    if key is not None:
        headers["Idempotency-Key"] = key
    resp = await api.client.post(
        "/api/v1/workflows/pipeline/runs", json={"parameters": params}, headers=headers
    )
    return resp.status, await resp.json()


async def _run_count(api: Api) -> int:
    resp = await api.client.get("/api/v1/runs?limit=100", headers=api.auth("operator"))
    return int((await resp.json())["total"])


async def test_fifty_concurrent_starts_on_two_replicas_make_one_run(
    make_api: AppFactory, settings: Settings
) -> None:
    first = await make_api(settings)
    second = await make_api(settings)
    resp = await first.client.post(
        "/api/v1/workflows", json=pipeline_spec(), headers=first.auth("designer")
    )
    assert resp.status == 201
    answers = await asyncio.gather(
        *(_start(first if i % 2 else second, "nightly-2026-12-01", {"records": 5})
          for i in range(50))
    )  # fmt: skip
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 49 + [201]
    assert len({body["runId"] for _, body in answers}) == 1
    assert await _run_count(first) == 1
    run = answers[0][1]
    assert run["metadata"]["idempotencyKey"] == "nightly-2026-12-01"


async def test_same_key_other_params_is_409_and_no_key_starts_each_time(api: Api) -> None:
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    status, run = await _start(api, "k1", {"records": 1})
    assert status == 201
    status, again = await _start(api, "k1", {"records": 1})
    assert (status, again["runId"]) == (200, run["runId"])
    status, err = await _start(api, "k1", {"records": 2})
    assert status == 409
    assert err["error"] == "CONFLICT"
    assert err["details"]["runId"] == run["runId"]
    await _start(api, None, {"records": 1})
    await _start(api, None, {"records": 1})
    assert await _run_count(api) == 3


async def test_bad_key_and_bad_params_leave_the_key_free(api: Api) -> None:
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    status, err = await _start(api, "has space", {})
    assert status == 400
    assert "idempotency key" in err["message"]
    status, err = await _start(api, "k2", {"records": "many"})
    assert (status, err["error"]) == (400, "BAD_PARAMETERS")
    # The failed start released its reservation: the key works for a good start.
    status, run = await _start(api, "k2", {"records": 4})
    assert status == 201
    assert run["status"] in ("pending", "running")


async def test_cli_idempotency_key(api: Api) -> None:
    from orchestrator.client import DagqClient

    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    async with DagqClient(api.base_url, api_key=api.keys["operator"]) as client:
        one = await client.start_run("pipeline", {"records": 2}, idempotency_key="cli-1")
        two = await client.start_run("pipeline", {"records": 2}, idempotency_key="cli-1")
    assert one.runId == two.runId
