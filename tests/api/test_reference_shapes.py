"""The upstream reference's 17 operations, called with its shapes, answer in its shapes.

The reference YAML holds no ``example`` values, so the examples are written here in the
reference's own form (camelCase, a node's settings in ``config``, decision edges as the
strings "true"/"false", ``branches``, ``strategy``, ``validation``, ``skipNodes``...) and
checked against the YAML at test time twice over: each is a valid request by the
reference's schema, and together they set every property the reference documents for
its requests (so a property the reference gains fails this test until it is handled).
Every answer is then checked against the reference's schema for that operation and
status (:mod:`tests.api.reference` lists the two relaxations and why).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.editor import spec_data_from_api
from orchestrator.cli.remote.workflows import same_spec, spec_of
from orchestrator.spec.export import spec_to_data
from orchestrator.spec.model import WorkflowSpec
from orchestrator.wire.runs import WorkflowRecord
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api
from tests.api.reference import Reference, reference_dir

EU = "params.region == 'eu'"
WORKFLOW: dict[str, Any] = {
    "name": "Order fulfilment",
    "description": "Reserve, decide, charge and ship in parallel, then notify",
    "tags": ["orders", "reference"],
    "nodes": [
        {
            "id": "reserve",
            "type": "task",
            "name": "Reserve stock",
            "description": "Holds the items",
            "position": {"x": 10, "y": 5},
            "metadata": {"team": "warehouse"},
            "config": {
                "handler": "reserve",
                "timeout": 30,
                "retries": 2,
                "retryBackoff": {
                    "type": "exponential",
                    "initialInterval": 1,
                    "maxInterval": 10,
                    "multiplier": 2,
                },
                "compensationNode": "release",
            },
        },
        {
            "id": "check",
            "type": "decision",
            "name": "Large order?",
            "config": {
                "condition": "params.amount > 100",
                "branches": [
                    {"condition": "true", "targetNode": "review"},
                    {"condition": "false", "targetNode": "fork"},
                ],
            },
        },
        {"id": "review", "type": "task", "name": "Manual review", "config": {"handler": "review"}},
        {"id": "nightly", "type": "delay", "name": "At 2am", "config": {"cron": "0 2 * * *"}},
        {"id": "fork", "type": "parallel", "name": "Fork", "config": {"gatewayType": "parallel"}},
        {"id": "charge", "type": "task", "name": "Charge card", "config": {"handler": "charge"}},
        {"id": "ship", "type": "task", "name": "Ship parcel", "config": {"handler": "ship"}},
        {
            "id": "join",
            "type": "parallel",
            "name": "Both done",
            "config": {"gatewayType": "parallel", "joinStrategy": "n_of_m", "joinCount": 2},
        },
        {"id": "cool", "type": "delay", "name": "Cool down", "config": {"duration": 1}},
        {
            "id": "route",
            "type": "exclusive",
            "name": "Which region",
            "config": {"gatewayType": "exclusive"},
        },
        {"id": "notify_eu", "type": "task", "name": "Notify EU", "config": {"handler": "notify"}},
        {"id": "notify_us", "type": "task", "name": "Notify US", "config": {"handler": "notify"}},
        {
            "id": "release",
            "type": "compensation",
            "name": "Release stock",
            "config": {"compensates": "reserve", "strategy": "immediate", "handler": "release"},
        },
    ],
    "edges": [
        {"id": "e1", "source": "reserve", "target": "check"},
        {"id": "e2", "source": "check", "target": "review", "condition": "true", "label": "big"},
        {"id": "e3", "source": "check", "target": "fork", "condition": "false"},
        {"id": "e4", "source": "review", "target": "nightly"},
        {"id": "e4b", "source": "nightly", "target": "fork"},
        {"id": "e5", "source": "fork", "target": "charge"},
        {"id": "e6", "source": "fork", "target": "ship"},
        {"id": "e7", "source": "charge", "target": "join"},
        {"id": "e8", "source": "ship", "target": "join"},
        {"id": "e9", "source": "join", "target": "cool"},
        {"id": "e10", "source": "cool", "target": "route"},
        {"id": "e11", "source": "route", "target": "notify_eu", "condition": EU},
        {"id": "e12", "source": "route", "target": "notify_us", "condition": f"not ({EU})"},
    ],
    "parameters": {
        "amount": {
            "type": "number",
            "required": True,
            "description": "Order total",
            "validation": "params.amount > 0",
        },
        "region": {"type": "string", "required": False, "default": "eu", "description": "Where"},
    },
    "metadata": {"owner": "shop"},
    "config": {
        "maxExecutionTime": 3600,
        "maxRetries": 3,
        "compensationStrategy": "none",
        "concurrencyLimit": 10,
        "priority": 5,
    },
}
RUN_PARAMETERS: dict[str, Any] = {
    "parameters": {"amount": 50, "region": "eu"},
    "priority": 7,
    "tags": ["reference"],
    "metadata": {"source": "reference-test"},
}
RETRY_OPTIONS: dict[str, Any] = {
    "fromNode": "charge",
    "skipNodes": ["ship"],
    "parameters": {"region": "us"},
}
REQUESTS = {
    "createWorkflow": WORKFLOW,
    "updateWorkflow": WORKFLOW,
    "createWorkflowVersion": WORKFLOW,
    "startWorkflowRun": RUN_PARAMETERS,
    "retryWorkflowRun": RETRY_OPTIONS,
}
TERMINAL = {"completed", "failed", "cancelled", "compensated"}


@pytest.fixture(scope="module")
def ref() -> Reference:
    """The reference, read now from the file CI keeps beside the clone (never skipped)."""
    return Reference(reference_dir())


class Handlers:
    """The example's handlers; ``ship`` fails while ``ship_fails``; ``review`` waits."""

    def __init__(self) -> None:
        self.ship_fails = True
        self.review_go = asyncio.Event()

    def registry(self) -> Registry:
        reg = Registry()

        def plain(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
            return {ctx.node_id: True}

        def ship(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
            if self.ship_fails:
                raise RuntimeError("no courier")
            return {"shipped": True}

        async def review(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
            await self.review_go.wait()
            return {"reviewed": True}

        for name in ("reserve", "charge", "notify", "release"):
            reg.register(name, plain)
        reg.register("ship", ship)
        reg.register("review", review)
        return reg


@pytest.fixture
async def handlers(api: Api) -> AsyncIterator[Handlers]:
    """A real worker in this process running the example's handlers."""
    steer = Handlers()
    stop = asyncio.Event()
    worker = Worker(api.conn.redis, api.conn.keys, api.settings, steer.registry(), concurrency=8)
    task = asyncio.create_task(worker.run(stop))
    yield steer
    steer.review_go.set()
    stop.set()
    await task


def test_the_examples_are_valid_requests_that_use_every_documented_property(
    ref: Reference,
) -> None:
    documented: set[tuple[str, str]] = set()
    used: set[tuple[str, str]] = set()
    for operation_id, example in REQUESTS.items():
        schema = ref.request_schema(operation_id)
        assert ref.errors(schema, example) == [], operation_id
        documented |= ref.documented_properties(schema)
        used |= set(ref.used_properties(schema, example))
    assert documented - used == set()
    # every request-bodied operation of the reference has an example
    with_body = {o for o, (_, _, op) in ref.operations.items() if "requestBody" in op}
    assert with_body == set(REQUESTS)


class Caller:
    """Calls the API as an admin and checks each answer against the reference."""

    def __init__(self, api: Api, ref: Reference) -> None:
        self.api = api
        self.ref = ref
        self.called: set[str] = set()

    async def __call__(
        self,
        operation_id: str,
        status: int,
        *,
        path: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        method, template, _ = self.ref.operations[operation_id]
        url = "/api/v1" + template.format(**(path or {}))
        resp = await self.api.client.request(
            method, url, params=query, json=body, headers=self.api.auth("admin")
        )
        text = await resp.text()
        assert resp.status == status, f"{operation_id}: {resp.status} {text}"
        self.called.add(operation_id)
        schema = self.ref.response_schema(operation_id, status)
        if schema is None:
            assert text == "", operation_id
            return None
        data = await resp.json()
        assert self.ref.errors(schema, data) == [], f"{operation_id}: {data}"
        return data

    async def settled(self, run_id: str) -> dict[str, Any]:
        """The run once it has ended (polled with a deadline)."""
        deadline = time.monotonic() + 60
        while True:
            run: dict[str, Any] = await self("getWorkflowRun", 200, path={"runId": run_id})
            if run["status"] in TERMINAL:
                return run
            assert time.monotonic() < deadline, run
            await asyncio.sleep(0.05)


async def test_every_operation_answers_in_the_reference_shape(
    api: Api, ref: Reference, handlers: Handlers
) -> None:
    call = Caller(api, ref)
    before = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()

    created = await call("createWorkflow", 201, body=WORKFLOW)
    wid = created["id"]
    assert created["version"] == 1 and created["name"] == "Order fulfilment"
    names = {n["id"]: n["name"] for n in created["nodes"]}
    assert names["reserve"] == "Reserve stock" and names["cool"] == "Cool down"
    conditions = {e["id"]: e.get("condition") for e in created["edges"]}
    assert conditions["e2"] == "true" and conditions["e3"] == "false"
    release = next(n for n in created["nodes"] if n["id"] == "release")
    assert release["strategy"] == "immediate"
    assert created["parameters"]["amount"]["validation"] == "params.amount > 0"
    # The reference's config objects come back as they were sent (branches became edges).
    answered = {n["id"]: n["config"] for n in created["nodes"]}
    for node in WORKFLOW["nodes"]:
        sent = {k: v for k, v in node["config"].items() if k != "branches"}
        assert {k: answered[node["id"]].get(k) for k in sent} == sent, node["id"]
    assert WORKFLOW["config"].items() <= created["config"].items()
    # ... and the answer loads back as the same spec, as the CLI and the designer read it.
    record = WorkflowRecord.model_validate(created)
    assert same_spec(spec_of(record), WorkflowSpec.model_validate({**WORKFLOW, "id": wid}))
    assert spec_data_from_api(created) == spec_to_data(spec_of(record))

    listed = await call("listWorkflows", 200, query={"name": "fulfil", "tag": "orders"})
    assert [w["id"] for w in listed["workflows"]] == [wid]
    await call("getWorkflow", 200, path={"workflowId": wid})
    changed = {**WORKFLOW, "description": "Now with a changelog"}
    updated = await call("updateWorkflow", 200, path={"workflowId": wid}, body=changed)
    assert updated["version"] == 2
    verdict = await call("validateWorkflow", 200, path={"workflowId": wid})
    assert verdict["valid"] is True
    version = await call("createWorkflowVersion", 201, path={"workflowId": wid}, body=WORKFLOW)
    assert version["version"] == 3 and version["changeLog"] == ""
    versions = await call("listWorkflowVersions", 200, path={"workflowId": wid})
    assert [v["version"] for v in versions["versions"]] == [3, 2, 1]

    # A run that fails at ship; retryNode reruns it (and it fails again).
    run = await call("startWorkflowRun", 201, path={"workflowId": wid}, body=RUN_PARAMETERS)
    rid = run["id"]
    assert run["nodeStatuses"] == run["nodes"]
    failed = await call.settled(rid)
    assert failed["status"] == "failed"
    assert failed["nodeStatuses"]["ship"]["error"] == "no courier"
    assert failed["nodeStatuses"]["check"]["nodeName"] == "Large order?"
    nodes = await call("getNodeStatuses", 200, path={"runId": rid})
    assert {n["nodeId"] for n in nodes["nodes"]} == {n["id"] for n in WORKFLOW["nodes"]}
    ship = await call("getNodeStatus", 200, path={"runId": rid, "nodeId": "ship"})
    assert ship["status"] == "failed" and ship["lastError"] == "no courier"
    await call("retryNode", 200, path={"runId": rid, "nodeId": "ship"})
    assert (await call.settled(rid))["status"] == "failed"

    # Retry from charge, skipping ship, in another region: the rest runs.
    retried = await call("retryWorkflowRun", 201, path={"runId": rid}, body=RETRY_OPTIONS)
    assert retried["parameters"]["region"] == "us"
    done = await call.settled(rid)
    assert done["status"] == "completed", done
    statuses = {n: v["status"] for n, v in done["nodeStatuses"].items()}
    assert statuses["ship"] == "skipped" and statuses["join"] == "completed"
    assert statuses["notify_us"] == "completed" and statuses["notify_eu"] == "skipped"

    page = await call(
        "listWorkflowRuns",
        200,
        path={"workflowId": wid},
        query={"status": "completed", "startTime": before},
    )
    (summary,) = page["runs"]
    assert summary["id"] == rid and summary["workflowName"] == "Order fulfilment"
    assert summary["totalNodes"] == len(WORKFLOW["nodes"])
    assert summary["completedNodes"] == sum(s == "completed" for s in statuses.values())
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    empty = await call(
        "listWorkflowRuns", 200, path={"workflowId": wid}, query={"startTime": later}
    )
    assert empty == {"runs": [], "total": 0, "hasMore": False}

    events = await call("streamRunEvents", 200, path={"runId": rid}, query={"since": before})
    kinds = [e["type"] for e in events["events"]]
    assert kinds[0] == "run_started" and kinds[-1] == "run_completed"

    # A large order waits for review: cancel it.
    big = await call(
        "startWorkflowRun",
        201,
        path={"workflowId": wid},
        body={"parameters": {"amount": 500}},
    )
    await call("cancelWorkflowRun", 204, path={"runId": big["id"]})
    assert (await call.settled(big["id"]))["status"] == "cancelled"

    await call("deleteWorkflow", 204, path={"workflowId": wid}, query={"force": "true"})
    assert call.called == set(ref.operations)  # all 17

    gone = await api.client.get(f"/api/v1/workflows/{wid}", headers=api.auth("admin"))
    assert gone.status == 404
    error = ref.response_schema("getWorkflow", 404)
    assert error is not None and ref.errors(error, await gone.json()) == []


async def test_a_parameter_validation_is_enforced_when_a_run_starts(
    api: Api, handlers: Handlers
) -> None:
    created = await api.client.post("/api/v1/workflows", json=WORKFLOW, headers=api.auth("admin"))
    wid = (await created.json())["id"]
    refused = await api.client.post(
        f"/api/v1/workflows/{wid}/runs",
        json={"parameters": {"amount": -5}},
        headers=api.auth("admin"),
    )
    assert refused.status == 400, await refused.text()
    body = await refused.json()
    assert "fails its validation 'params.amount > 0' (got -5)" in body["message"]


async def test_a_bad_start_time_or_skip_node_gets_a_clear_error(
    api: Api, handlers: Handlers
) -> None:
    admin = api.auth("admin")
    for bad in ("0.5", "yesterday", "2025-01-31"):
        resp = await api.client.get("/api/v1/runs", params={"startTime": bad}, headers=admin)
        assert resp.status == 400, await resp.text()
        assert "startTime" in (await resp.json())["message"]
    created = await api.client.post("/api/v1/workflows", json=WORKFLOW, headers=admin)
    wid = (await created.json())["id"]
    started = await api.client.post(
        f"/api/v1/workflows/{wid}/runs", json=RUN_PARAMETERS, headers=admin
    )
    rid = (await started.json())["id"]
    await Caller(api, Reference(reference_dir())).settled(rid)  # fails at ship
    unknown = await api.client.post(
        f"/api/v1/runs/{rid}/retry", json={"skipNodes": ["nope"]}, headers=admin
    )
    assert unknown.status == 404 and "no step 'nope' to skip" in await unknown.text()
    gateway = await api.client.post(
        f"/api/v1/runs/{rid}/retry", json={"skipNodes": ["fork"]}, headers=admin
    )
    assert gateway.status == 400 and "not 'fork' (parallel)" in await gateway.text()
    invalid = await api.client.post(
        f"/api/v1/runs/{rid}/retry", json={"parameters": {"amount": 0}}, headers=admin
    )
    assert invalid.status == 400 and "fails its validation" in await invalid.text()
