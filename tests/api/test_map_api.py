"""Map nodes through the API: progress in the run view, the items route, retrying only the
failed items; executed by the orchestrator inside the app and a real Worker."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api
from tests.conftest import until

SPEC: dict[str, Any] = {
    "id": "batch",
    "name": "Batch",
    "nodes": [
        {"id": "per_record", "type": "map", "items": "params.records", "handler": "each",
         "retries": 0, "max_parallel": 3},
    ],
    "parameters": {"records": {"type": "array", "default": []}},
}  # fmt: skip


class Items:
    """The ``each`` handler: fails the items listed in ``bad``; counts calls per index."""

    def __init__(self) -> None:
        self.bad: set[int] = set()
        self.calls: Counter[int] = Counter()

    def __call__(self, data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        self.calls[data["index"]] += 1
        if data["index"] in self.bad:
            raise RuntimeError(f"record {data['item']} refused")
        return {"got": data["item"]}


@pytest.fixture
async def items(api: Api) -> AsyncIterator[Items]:
    handler = Items()
    reg = Registry()
    reg.register("each", handler)
    stop = asyncio.Event()
    task = asyncio.create_task(
        Worker(api.conn.redis, api.conn.keys, api.settings, reg, concurrency=8).run(stop)
    )
    yield handler
    stop.set()
    await task


async def _ended(api: Api, run_id: str) -> dict[str, Any]:
    op = api.auth("operator")
    view: dict[str, Any] = {}

    async def ended() -> bool:
        nonlocal view
        view = await (await api.client.get(f"/api/v1/runs/{run_id}", headers=op)).json()
        return view["status"] in ("completed", "failed")

    await until(ended, f"run {run_id} to end")
    return view


async def test_items_route_progress_and_retrying_only_failed_items(api: Api, items: Items) -> None:
    op = api.auth("operator")
    created = await api.client.post("/api/v1/workflows", json=SPEC, headers=api.auth("admin"))
    assert created.status == 201, await created.text()
    items.bad = {7}  # dispatched once 5 items have completed (max_parallel 3)
    records = [f"r{i}" for i in range(8)]
    started = await api.client.post(
        "/api/v1/workflows/batch/runs", json={"parameters": {"records": records}}, headers=op
    )
    run_id = (await started.json())["runId"]
    view = await _ended(api, run_id)
    assert view["status"] == "failed"
    progress = view["nodes"]["per_record"]["progress"]
    assert progress["failed"] == 1 and progress["total"] == 8 and progress["inFlight"] == 0

    url = f"/api/v1/runs/{run_id}/nodes/per_record/items"
    failed = await (await api.client.get(url + "?status=failed", headers=op)).json()
    assert failed["total"] == 1
    (item,) = failed["items"]
    assert item["status"] == "failed" and item["attempts"] == 1
    assert item["error"].endswith("refused") and item["item"] == f"r{item['index']}"
    page = await (await api.client.get(url + "?offset=1&limit=2", headers=op)).json()
    assert [i["index"] for i in page["items"]] == [1, 2] and page["total"] == 8
    completed = await (await api.client.get(url + "?status=completed", headers=op)).json()
    done_before = {i["index"] for i in completed["items"]}
    assert done_before and completed["total"] == progress["done"]

    items.bad = set()
    retried = await api.client.post(f"/api/v1/runs/{run_id}/retry", json={}, headers=op)
    assert retried.status == 201, await retried.text()
    view = await _ended(api, run_id)
    assert view["status"] == "completed"
    out = view["nodes"]["per_record"]["output"]
    assert out == {"results": [{"got": r} for r in records], "failed": []}
    assert all(items.calls[i] == 1 for i in done_before), "completed items did not run again"

    for insight in ("replay", "gantt", "replay/steps"):  # item events do not break them
        answer = await api.client.get(f"/api/v1/runs/{run_id}/{insight}", headers=op)
        assert answer.status == 200, (insight, await answer.text())

    bad = await api.client.get(url + "?status=nonsense", headers=op)
    assert bad.status == 400
    missing = await api.client.get(f"/api/v1/runs/{run_id}/nodes/nope/items", headers=op)
    assert missing.status == 404


async def test_validation_warns_of_a_subworkflow_that_is_not_stored(api: Api) -> None:
    h = api.auth("designer")
    spec = {
        "id": "parent",
        "name": "parent",
        "nodes": [
            {"id": "call", "type": "subworkflow", "workflow": "batch"},
            {"id": "each", "type": "map", "items": "params.x", "workflow": "later"},
        ],
    }
    await api.client.post("/api/v1/workflows", json=SPEC, headers=api.auth("admin"))
    answer = await (await api.client.post("/api/v1/validate", json=spec, headers=h)).json()
    assert answer["valid"] is True
    assert [(w["code"], w["nodeId"]) for w in answer["warnings"]] == [("UNKNOWN_WORKFLOW", "each")]
    assert "'later', which is not stored" in answer["warnings"][0]["message"]
