"""A sub-workflow's child run starts as its parent's starter (issue 18 meets issue 14):
the child's handlers are checked against the user who started the parent."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, pipeline_spec
from tests.api.test_handler_permissions import _call, narrow
from tests.conftest import until

WF = "/api/v1/workflows"


def _parent(node: dict[str, Any]) -> dict[str, Any]:
    return {"id": "order", "name": "order", "nodes": [{"id": "ship", "retries": 0, **node}]}


async def _ended(api: Api, run_id: str) -> dict[str, Any]:
    async def ended() -> bool:
        _, view = await _call(api, "GET", f"/api/v1/runs/{run_id}", "admin")
        return bool(view["status"] in ("failed", "completed", "cancelled"))

    await until(ended, f"run {run_id} to end")
    _, nodes = await _call(api, "GET", f"/api/v1/runs/{run_id}/nodes", "admin")
    return {n["nodeId"]: n for n in nodes["nodes"]}


async def test_a_child_using_a_handler_its_parents_starter_may_not_use_fails_the_node(
    api: Api,
) -> None:
    # The child uses fetch, transform and store; the operator may only fetch and transform.
    assert (await _call(api, "POST", WF, "admin", json=pipeline_spec("shipping")))[0] == 201
    body = _parent({"type": "subworkflow", "workflow": "shipping"})
    assert (await _call(api, "POST", WF, "admin", json=body))[0] == 201
    await narrow(api, "operator", "handler:fetch", "handler:transform")

    # The parent itself uses no handler: otto may start it, but not its child.
    status, run = await _call(api, "POST", f"{WF}/order/runs", "operator", json={})
    assert status == 201, run
    assert run["metadata"]["runAs"] == "otto"
    ship = (await _ended(api, run["runId"]))["ship"]
    assert ship["status"] == "failed"
    assert "sub-workflow shipping refused" in ship["error"]
    assert "otto may not start a run of 'shipping'" in ship["error"]
    assert "handler:store" in ship["error"]
    assert "childRunId" not in ship  # no child was started
    _, runs = await _call(api, "GET", "/api/v1/runs?workflowId=shipping", "admin")
    assert runs["runs"] == []

    # The admin may use every handler: the child starts, recorded as run by the admin
    # (so the worker checks the admin's permissions at each of its nodes).
    status, run = await _call(api, "POST", f"{WF}/order/runs", "admin", json={})
    assert status == 201, run

    async def child() -> str | None:
        _, nodes = await _call(api, "GET", f"/api/v1/runs/{run['runId']}/nodes", "admin")
        found = {n["nodeId"]: n for n in nodes["nodes"]}["ship"].get("childRunId")
        return found if isinstance(found, str) else None

    async def started() -> bool:
        return await child() is not None

    await until(started, "the admin's child run to start")
    child_id = await child()
    _, view = await _call(api, "GET", f"/api/v1/runs/{child_id}", "admin")
    assert view["metadata"]["runAs"] == "ada" and view["metadata"]["startedBy"] == "ada"


async def test_a_map_over_a_sub_workflow_checks_each_child_as_the_starter(api: Api) -> None:
    assert (await _call(api, "POST", WF, "admin", json=pipeline_spec("shipping")))[0] == 201
    body = _parent({"type": "map", "items": "params.orders", "workflow": "shipping"})
    body["parameters"] = {"orders": {"type": "array", "default": [1, 2]}}
    assert (await _call(api, "POST", WF, "admin", json=body))[0] == 201
    await narrow(api, "operator", "handler:fetch", "handler:transform")

    status, run = await _call(api, "POST", f"{WF}/order/runs", "operator", json={})
    assert status == 201, run
    ship = (await _ended(api, run["runId"]))["ship"]
    assert ship["status"] == "failed"
    assert "handler:store" in ship["error"]
