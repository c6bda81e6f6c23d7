"""Deleting a workflow that schedules or webhooks still start: refused, or forced with them."""

from __future__ import annotations

from pathlib import Path

from orchestrator.settings import Settings
from tests.api.conftest import Api, AppFactory, pipeline_spec
from tests.triggers.test_schedules_api import api_json as _call

WF = "/api/v1/workflows/pipeline"


async def _with_schedule_and_hook(api: Api) -> str:
    status, _ = await _call(api, "POST", "/api/v1/workflows", json=pipeline_spec())
    assert status == 201
    nightly = {"id": "nightly", "workflowId": "pipeline", "cron": "0 2 * * *"}
    status, _ = await _call(api, "POST", "/api/v1/schedules", role="designer", json=nightly)
    assert status == 201
    status, hook = await _call(api, "POST", "/api/v1/hooks", json={"workflowId": "pipeline"})
    assert status == 201
    hook_id: str = hook["id"]
    return hook_id


async def test_a_delete_is_refused_while_schedules_or_hooks_start_the_workflow(api: Api) -> None:
    hook_id = await _with_schedule_and_hook(api)
    status, err = await _call(api, "DELETE", WF, role="designer")
    assert status == 409 and err["error"] == "CONFLICT"
    assert err["details"]["schedules"] == ["nightly"] and err["details"]["hooks"] == [hook_id]
    assert err["details"]["activeRuns"] == []
    assert "1 schedule (nightly) and 1 webhook" in err["message"] and "force" in err["message"]
    # Nothing was removed.
    assert (await _call(api, "GET", WF))[0] == 200
    assert (await _call(api, "GET", "/api/v1/schedules/nightly"))[0] == 200
    _, hooks = await _call(api, "GET", "/api/v1/hooks")
    assert [h["id"] for h in hooks["hooks"]] == [hook_id]


async def test_force_removes_them_with_the_workflow_and_audits_each(api: Api) -> None:
    hook_id = await _with_schedule_and_hook(api)
    # Another workflow's schedule is not touched.
    await _call(api, "POST", "/api/v1/workflows", json=pipeline_spec("other"))
    other = {"id": "other-nightly", "workflowId": "other", "cron": "0 3 * * *"}
    assert (await _call(api, "POST", "/api/v1/schedules", json=other))[0] == 201
    status, run = await _call(api, "POST", f"{WF}/runs", json={})
    assert status == 201

    status, _ = await _call(api, "DELETE", f"{WF}?force=true", role="designer")
    assert status == 204
    assert (await _call(api, "GET", WF))[0] == 404
    assert (await _call(api, "GET", "/api/v1/schedules/nightly"))[0] == 404
    _, schedules = await _call(api, "GET", "/api/v1/schedules")
    assert [s["id"] for s in schedules["schedules"]] == ["other-nightly"]
    _, hooks = await _call(api, "GET", "/api/v1/hooks")
    assert hooks["hooks"] == []
    _, after = await _call(api, "GET", f"/api/v1/runs/{run['runId']}")
    assert after["status"] == "cancelled"

    _, page = await _call(api, "GET", "/api/v1/audit?limit=100")
    entries = page["entries"]
    (deleted,) = [e for e in entries if e["action"] == "deleteWorkflow"]
    assert deleted["outcome"] == "allowed" and "force" in deleted["detail"]
    removed = {
        (e["action"], e["resource"]): e
        for e in entries
        if e["action"] in ("deleteSchedule", "deleteHook")
    }
    assert set(removed) == {
        ("deleteSchedule", "schedule nightly"),
        ("deleteHook", f"hook {hook_id}"),
    }
    for entry in removed.values():
        assert entry["user"] == "dee" and entry["detail"] == "removed with workflow pipeline"
        assert entry["requestId"] == deleted["requestId"]


async def test_force_needs_the_right_to_remove_hooks(
    make_api: AppFactory, settings: Settings, policies: Path
) -> None:
    policy = policies / "policy.csv"
    lines = policy.read_text().splitlines()
    policy.write_text("\n".join(x for x in lines if x != "p, workflow_designer, hook:write") + "\n")
    api = await make_api(settings)
    hook_id = await _with_schedule_and_hook(api)
    status, err = await _call(api, "DELETE", f"{WF}?force=true", role="designer")
    assert status == 403 and err["details"]["permission"] == "hook:write"
    assert hook_id in err["message"] and err["details"]["webhooks"] == [hook_id]
    # Refused before anything went.
    assert (await _call(api, "GET", WF))[0] == 200
    assert (await _call(api, "GET", "/api/v1/schedules/nightly"))[0] == 200


async def test_a_workflow_with_nothing_depending_on_it_goes_at_once(api: Api) -> None:
    await _call(api, "POST", "/api/v1/workflows", json=pipeline_spec())
    assert (await _call(api, "DELETE", WF, role="designer"))[0] == 204
    assert (await _call(api, "DELETE", WF, role="designer"))[0] == 404
