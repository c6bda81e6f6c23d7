"""Runs through the API, executed by the orchestrator inside the app and a real Worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api, pipeline_spec
from tests.api.sse_reader import read_frames

SSE = {"Accept": "text/event-stream"}


class Switch:
    """Makes the ``store`` handler fail until flipped."""

    def __init__(self) -> None:
        self.fail = False


def registry(switch: Switch) -> Registry:
    reg = Registry()

    def fetch(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"records": ctx.params.get("records", 0)}

    def transform(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"doubled": data["records"] * 2}

    def store(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        if switch.fail:
            raise RuntimeError("disk full")
        return {"stored": data["doubled"]}

    for fn in (fetch, transform, store):
        reg.register(fn.__name__, fn)
    return reg


@pytest.fixture
async def worker(api: Api) -> AsyncIterator[Switch]:
    """A real worker in this process; yields the switch steering the ``store`` handler."""
    switch = Switch()
    stop = asyncio.Event()
    w = Worker(api.conn.redis, api.conn.keys, api.settings, registry(switch), concurrency=4)
    task = asyncio.create_task(w.run(stop))
    yield switch
    stop.set()
    await task


async def _events_until_end(api: Api, run_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    resp = await api.client.get(f"/api/v1/runs/{run_id}/events", headers={**SSE, **headers})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    return await read_frames(resp)


async def test_start_run_completes_and_streams(api: Api, worker: Switch) -> None:
    op = api.auth("operator")
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("designer"))
    started = await api.client.post(
        "/api/v1/workflows/pipeline/runs",
        json={"parameters": {"records": 21}, "tags": ["t1"], "priority": 8},
        headers=op,
    )
    assert started.status == 201, await started.text()
    run = await started.json()
    assert run["status"] in ("running", "pending")
    assert run["metadata"]["startedBy"] == "otto"
    assert run["metadata"]["tags"] == ["t1"]

    frames = await _events_until_end(api, run["runId"], op)
    types = [f["data"]["type"] for f in frames if f["event"] == "message"]
    assert types[0] == "run_started"
    assert types[-1] == "run_completed"
    assert frames[-1] == {
        "event": "end",
        "data": {"runId": run["runId"], "status": "completed"},
    }
    assert all(f["id"] == f["data"]["id"] for f in frames if f["event"] == "message")

    done = await (await api.client.get(f"/api/v1/runs/{run['runId']}", headers=op)).json()
    assert done["status"] == "completed"
    assert done["output"] == {"stored": 42}
    nodes = await (await api.client.get(f"/api/v1/runs/{run['runId']}/nodes", headers=op)).json()
    assert {n["nodeId"]: n["status"] for n in nodes["nodes"]} == {
        "fetch": "completed",
        "transform": "completed",
        "store": "completed",
    }
    one = await api.client.get(f"/api/v1/runs/{run['runId']}/nodes/store", headers=op)
    assert (await one.json())["output"] == {"stored": 42}
    missing = await api.client.get(f"/api/v1/runs/{run['runId']}/nodes/nope", headers=op)
    assert missing.status == 404

    # Resume after the second event: exactly the rest, then the end frame.
    second = frames[1]["id"]
    resumed = await _events_until_end(api, run["runId"], {**op, "Last-Event-ID": second})
    assert [f.get("id") for f in resumed[:-1]] == [f["id"] for f in frames[2:-1]]
    assert resumed[-1]["event"] == "end"

    # JSON form with ?since= an id, and with an ISO time.
    page = await api.client.get(f"/api/v1/runs/{run['runId']}/events?since={second}", headers=op)
    listed = (await page.json())["events"]
    assert [e["id"] for e in listed] == [f["id"] for f in frames[2:-1]]
    since_time = listed[0]["timestamp"]
    by_time = await api.client.get(
        f"/api/v1/runs/{run['runId']}/events", params={"since": since_time}, headers=op
    )
    # A time selects by when events were recorded: every event stamped at or after it is
    # there (an event may be stamped a moment before it was recorded, so a few more may be).
    by_time_ids = {e["id"] for e in (await by_time.json())["events"]}
    assert {e["id"] for e in listed if e["timestamp"] >= since_time} <= by_time_ids
    assert by_time_ids <= {f["id"] for f in frames if "id" in f}
    bad = await api.client.get(f"/api/v1/runs/{run['runId']}/events?since=yesterday", headers=op)
    assert bad.status == 400

    runs = await (await api.client.get("/api/v1/workflows/pipeline/runs", headers=op)).json()
    assert [r["id"] for r in runs["runs"]] == [run["runId"]]
    completed = await api.client.get("/api/v1/runs?status=completed", headers=op)
    assert (await completed.json())["total"] == 1


async def test_live_stream_follows_a_run(api: Api) -> None:
    op = api.auth("operator")
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    run = await (
        await api.client.post("/api/v1/workflows/pipeline/runs", json={}, headers=op)
    ).json()
    # The stream opens while nothing can run yet, and follows the run once a worker appears.
    reader = asyncio.create_task(_events_until_end(api, run["runId"], op))
    switch = Switch()
    stop = asyncio.Event()
    w = Worker(api.conn.redis, api.conn.keys, api.settings, registry(switch), concurrency=2)
    worker_task = asyncio.create_task(w.run(stop))
    try:
        frames = await asyncio.wait_for(reader, 60)
    finally:
        stop.set()
        await worker_task
    assert frames[-1]["data"]["status"] == "completed"


async def test_failed_run_retry_and_node_retry(api: Api, worker: Switch) -> None:
    op = api.auth("operator")
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    worker.fail = True
    run = await (
        await api.client.post("/api/v1/workflows/pipeline/runs", json={}, headers=op)
    ).json()
    frames = await _events_until_end(api, run["runId"], op)
    assert frames[-1]["data"]["status"] == "failed"
    failed = await (await api.client.get(f"/api/v1/runs/{run['runId']}", headers=op)).json()
    assert failed["nodes"]["store"]["lastError"].endswith("disk full")

    cancel = await api.client.delete(f"/api/v1/runs/{run['runId']}", headers=op)
    assert cancel.status == 409  # it has ended

    worker.fail = False
    retried = await api.client.post(f"/api/v1/runs/{run['runId']}/nodes/store/retry", headers=op)
    assert retried.status == 200, await retried.text()
    assert (await retried.json())["nodeId"] == "store"
    last = frames[-2]["id"]
    rest = await _events_until_end(api, run["runId"], {**op, "Last-Event-ID": last})
    assert rest[-1]["data"]["status"] == "completed"

    again = await api.client.post(
        f"/api/v1/runs/{run['runId']}/retry", json={"fromNode": "nope"}, headers=op
    )
    assert again.status in (400, 404, 409)


async def test_cancel_and_parameters(api: Api) -> None:
    op = api.auth("operator")
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    bad = await api.client.post(
        "/api/v1/workflows/pipeline/runs", json={"parameters": {"records": "many"}}, headers=op
    )
    assert bad.status == 400
    assert (await bad.json())["error"] == "BAD_PARAMETERS"
    unknown = await api.client.post("/api/v1/workflows/nope/runs", json={}, headers=op)
    assert unknown.status == 404
    run = await (
        await api.client.post("/api/v1/workflows/pipeline/runs", json={}, headers=op)
    ).json()
    assert run["warnings"]  # no live worker offers the first handler
    resp = await api.client.delete(f"/api/v1/runs/{run['runId']}", headers=op)
    assert resp.status == 204
    frames = await _events_until_end(api, run["runId"], op)
    assert frames[-1]["data"]["status"] == "cancelled"
