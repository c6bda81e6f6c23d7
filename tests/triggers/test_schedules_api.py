"""Schedules through the API, fired by the scheduler inside the app's orchestrator."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, pipeline_spec
from tests.conftest import until

BASE = "/api/v1/schedules"


async def api_json(api: Api, method: str, path: str, role: str = "admin", **kw: Any) -> Any:
    """``(status, JSON body or None)`` of one call as ``role``."""
    resp = await api.client.request(method, path, headers=api.auth(role), **kw)
    data = await resp.json() if resp.status != 204 else None
    return resp.status, data


async def _workflow(api: Api) -> None:
    status, _ = await api_json(api, "POST", "/api/v1/workflows", json=pipeline_spec())
    assert status == 201


async def test_crud_next_fires_and_permissions(api: Api) -> None:
    await _workflow(api)
    nightly = {
        "id": "nightly",
        "workflowId": "pipeline",
        "cron": "0 2 * * *",
        "timezone": "Europe/Berlin",
        "params": {"records": 7},
    }
    status, err = await api_json(api, "POST", BASE, role="operator", json=nightly)
    assert (status, err["error"]) == (403, "FORBIDDEN")
    status, view = await api_json(api, "POST", BASE, role="designer", json=nightly)
    assert status == 201, view
    assert view["paused"] is False and view["catchup"] == "latest" and view["overlap"] == "skip"
    assert len(view["nextFires"]) == 5
    assert all(f.endswith(("T01:00:00Z", "T00:00:00Z")) for f in view["nextFires"])
    status, _ = await api_json(api, "POST", BASE, json=nightly)
    assert status == 409
    status, listed = await api_json(api, "GET", BASE, role="operator")
    assert [s["id"] for s in listed["schedules"]] == ["nightly"]
    status, view = await api_json(
        api, "PUT", f"{BASE}/nightly", role="designer", json={**nightly, "id": None,
                                                             "cron": "30 3 * * 1"}
    )  # fmt: skip
    assert status == 200 and view["cron"] == "30 3 * * 1"
    status, err = await api_json(
        api, "POST", BASE, json={**nightly, "id": "x", "workflowId": "nope"}
    )
    assert status == 404
    status, err = await api_json(api, "POST", BASE, json={**nightly, "id": "y", "timezone": "Mars"})
    assert status == 400 and "unknown time zone" in err["message"]
    status, _ = await api_json(api, "DELETE", f"{BASE}/nightly", role="operator")
    assert status == 403
    status, _ = await api_json(api, "DELETE", f"{BASE}/nightly", role="designer")
    assert status == 204
    status, _ = await api_json(api, "GET", f"{BASE}/nightly")
    assert status == 404


async def _outcomes(api: Api, sid: str) -> list[dict[str, Any]]:
    _, view = await api_json(api, "GET", f"{BASE}/{sid}")
    outcomes: list[dict[str, Any]] = view["outcomes"]
    return outcomes


async def test_every_second_fires_records_and_pauses(api: Api) -> None:
    await _workflow(api)
    body = {"id": "tick", "workflowId": "pipeline", "every": "1s", "overlap": "allow"}
    status, _ = await api_json(api, "POST", BASE, role="designer", json=body)
    assert status == 201

    async def two_started() -> bool:
        return bool(sum(o["status"] == "started" for o in await _outcomes(api, "tick")) >= 2)

    await until(two_started, "two fires of the every-1s schedule")
    started = [o for o in await _outcomes(api, "tick") if o["status"] == "started"]
    _, run = await api_json(api, "GET", f"/api/v1/runs/{started[0]['runId']}")
    assert run["metadata"]["scheduleId"] == "tick"
    assert run["metadata"]["scheduledTime"] == started[0]["fire"]
    assert run["metadata"]["idempotencyKey"] == f"schedule:tick:{started[0]['fire']}"

    status, view = await api_json(
        api, "POST", f"{BASE}/tick/pause", role="designer", json={"note": "maintenance"}
    )
    assert status == 200 and view["paused"] and view["note"] == "maintenance"
    assert view["nextFires"] == [] and view["nextFireTime"] is None
    # Once paused, the outcome list stops growing: wait for one trigger to be recorded
    # after the pause, then check no scheduled fire came in between.
    count = len(await _outcomes(api, "tick"))
    status, view = await api_json(api, "POST", f"{BASE}/tick/trigger", role="operator")
    assert status == 200
    outcomes = await _outcomes(api, "tick")
    assert outcomes[0]["status"] == "triggered" and len(outcomes) == count + 1
    status, view = await api_json(api, "POST", f"{BASE}/tick/resume", role="designer", json={})
    assert status == 200 and not view["paused"] and len(view["nextFires"]) == 5

    async def fired_after_resume() -> bool:
        return bool((await _outcomes(api, "tick"))[0]["status"] == "started")

    await until(fired_after_resume, "a fire after resume")
