"""A fire refused by ``max_concurrent_runs`` is held and retried, or skipped with its reason.

One run started by hand fills the deployment (``max_concurrent_runs: 1``, and no worker
serves its handlers, so it stays active); the schedules' fires then find no room.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.settings import Settings
from tests.api.conftest import Api, AppFactory, make_settings, pipeline_spec
from tests.conftest import until
from tests.triggers.test_schedules_api import api_json

BASE = "/api/v1/schedules"


@pytest.fixture
async def full(make_api: AppFactory, settings: Settings, redis_url: str, key_prefix: str) -> Any:
    """The app with room for one run, and the run that takes it: ``(api, run id)``."""
    limited = make_settings(
        redis_url, key_prefix, settings.data_dir, execution={"max_concurrent_runs": 1}
    )
    api = await make_api(limited)
    assert (await api_json(api, "POST", "/api/v1/workflows", json=pipeline_spec()))[0] == 201
    status, run = await api_json(api, "POST", "/api/v1/workflows/pipeline/runs", json={})
    assert status == 201, run
    status, err = await api_json(api, "POST", "/api/v1/workflows/pipeline/runs", json={})
    assert (status, err["error"]) == (429, "LIMIT_EXCEEDED")
    return api, run["runId"]


async def _outcomes(api: Api, schedule_id: str) -> list[dict[str, Any]]:
    """Oldest first."""
    _, view = await api_json(api, "GET", f"{BASE}/{schedule_id}")
    return list(reversed(view["outcomes"]))


async def test_a_held_fire_starts_once_there_is_room(full: Any) -> None:
    api, blocking = full
    start_at = datetime.now(UTC) + timedelta(seconds=1)
    body = {"id": "hourly", "workflowId": "pipeline", "every": "1h", "overlap": "allow",
            "startAt": start_at.isoformat()}  # fmt: skip
    assert (await api_json(api, "POST", BASE, role="designer", json=body))[0] == 201

    async def deferred() -> bool:
        return any(o["status"] == "deferred" for o in await _outcomes(api, "hourly"))

    await until(deferred, "the first fire deferred for room")
    (held,) = await _outcomes(api, "hourly")
    assert held["reason"] == "max concurrent runs" and "max_concurrent_runs" in held["error"]
    assert held["retryAt"] > held["fire"]

    assert (await api_json(api, "DELETE", f"/api/v1/runs/{blocking}"))[0] == 204

    async def started() -> bool:
        return any(o["status"] == "started" for o in await _outcomes(api, "hourly"))

    await until(started, "the held fire started once the run ended")
    outcomes = await _outcomes(api, "hourly")
    assert [o["status"] for o in outcomes] == ["deferred", "started"]
    assert outcomes[1]["fire"] == held["fire"] and outcomes[1]["tries"] >= 2
    _, run = await api_json(api, "GET", f"/api/v1/runs/{outcomes[1]['runId']}")
    assert run["metadata"]["scheduledTime"] == held["fire"]


async def test_a_held_fire_gives_way_to_the_next_and_catchup_none_skips_at_once(
    full: Any,
) -> None:
    api, _ = full
    for sid, catchup in (("latest", "latest"), ("none", "none")):
        body = {"id": sid, "workflowId": "pipeline", "every": "1s", "overlap": "allow",
                "catchup": catchup}  # fmt: skip
        assert (await api_json(api, "POST", BASE, role="designer", json=body))[0] == 201

    async def skipped(sid: str) -> bool:
        outcomes = await _outcomes(api, sid)
        return len([o for o in outcomes if o["status"] == "skipped_limit"]) >= 2

    await until(lambda: skipped("latest"), "two held fires given up for newer ones")
    await until(lambda: skipped("none"), "two fires skipped at once")
    for sid in ("latest", "none"):
        await api_json(api, "POST", f"{BASE}/{sid}/pause", role="designer", json={})

    latest = await _outcomes(api, "latest")
    assert {o["status"] for o in latest} <= {"deferred", "skipped_limit"}
    # Every fire held is accounted for: given up (its reason and tries on record), or
    # still the one held, the newest.
    deferred = [o["fire"] for o in latest if o["status"] == "deferred"]
    gave_up = {o["fire"]: o for o in latest if o["status"] == "skipped_limit"}
    assert deferred and all(f in gave_up for f in deferred[:-1])
    assert all(o["reason"] == "max concurrent runs" and o["tries"] >= 1 for o in gave_up.values())

    none = await _outcomes(api, "none")
    assert {o["status"] for o in none} == {"skipped_limit"}
    assert all(o["reason"] == "max concurrent runs" and o["tries"] == 1 for o in none)


async def test_a_backfill_waits_for_room_instead_of_failing(full: Any) -> None:
    api, blocking = full
    body = {"id": "hourly", "workflowId": "pipeline", "every": "1h", "overlap": "allow"}
    assert (await api_json(api, "POST", BASE, role="designer", json=body))[0] == 201
    now = datetime.now(UTC)
    first, last = now - timedelta(hours=3), now - timedelta(hours=1)
    span = {"from": first.isoformat(), "to": last.isoformat(), "maxParallel": 5}
    status, view = await api_json(api, "POST", f"{BASE}/hourly/backfill", json=span)
    assert status in (200, 201, 202), view
    total = view["total"]
    assert total >= 2

    async def backfill() -> dict[str, Any]:
        view: dict[str, Any] = (await api_json(api, "GET", f"{BASE}/hourly/backfill"))[1]
        return view

    async def waiting() -> bool:
        return bool((await backfill())["waitingFor"])

    await until(waiting, "the backfill waiting for room")
    view = await backfill()
    assert view["state"] == "running" and view["started"] == 0 and view["error"] is None
    assert "max_concurrent_runs" in view["waitingFor"]

    assert (await api_json(api, "DELETE", f"/api/v1/runs/{blocking}"))[0] == 204

    async def one_started() -> bool:
        return bool((await backfill())["started"] >= 1)

    await until(one_started, "a backfilled fire started once there was room")
    view = await backfill()
    assert view["state"] == "running" and view["error"] is None
