"""Templates through the API: the gallery, versions, compare, and workflows made from them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml

from orchestrator.client import DagqClient
from orchestrator.errors import Conflict, Forbidden, NotFound, ParameterError, SpecInvalid
from orchestrator.service import templates as templates_service
from orchestrator.spec.template import gallery
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api
from tests.api.test_handler_permissions import narrow
from tests.cli.conftest import EXAMPLES
from tests.conftest import until

GALLERY = sorted(t.id for t in gallery())
GREETER: dict[str, Any] = {
    "id": "greeter",
    "name": "Greeter",
    "parameters": {
        "greet_handler": {"type": "handler", "default": "sendNotification"},
        "step": {"type": "id", "description": "The greeting node's id"},
        "wait": {"type": "duration", "default": "1s"},
    },
    "workflow": {
        "name": "Greet via {{ greet_handler }}",
        "nodes": [
            {"id": "pause", "type": "delay", "duration": "{{ wait }}"},
            {"id": "{{ step }}", "type": "task", "handler": "{{ greet_handler }}"},
        ],
        "edges": [{"source": "pause", "target": "{{ step }}"}],
    },
}


def _client(api: Api, role: str) -> DagqClient:
    return DagqClient(api.base_url, api_key=api.keys[role])


@pytest.fixture
async def examples_worker(api: Api) -> AsyncIterator[None]:
    """A real worker offering examples/handlers.py."""
    reg = Registry()
    reg.load(str(EXAMPLES / "handlers.py"))
    stop = asyncio.Event()
    worker = Worker(api.conn.redis, api.conn.keys, api.settings, reg, concurrency=4)
    task = asyncio.create_task(worker.run(stop))
    yield
    stop.set()
    await task


async def test_the_gallery_is_there_and_stays_deleted(api: Api) -> None:
    async with _client(api, "operator") as c:
        assert sorted(t.id for t in await c.list_templates()) == GALLERY
        saga = await c.get_template("order-saga")
        assert saga.version == 1 and saga.createdBy == "dagq"
        assert "payment_handler" in (saga.template or {})["parameters"]
    async with _client(api, "designer") as c:
        await c.delete_template("nightly-report")
    templates_service._SEEDED.clear()  # as a restarted process: the gallery is seeded again
    async with _client(api, "admin") as c:
        assert "nightly-report" not in [t.id for t in await c.list_templates()]


async def test_versions_are_immutable_and_compared(api: Api) -> None:
    async with _client(api, "designer") as c:
        first = await c.create_template(GREETER)
        assert first.version == 1
        with pytest.raises(Conflict):
            await c.create_template(GREETER)
        same = await c.update_template("greeter", GREETER)
        assert (same.outcome, same.version) == ("unchanged", 1)
        changed = {
            **GREETER,
            "parameters": {
                **GREETER["parameters"],
                "greet_handler": {"type": "handler", "default": "storeBackup"},
                "note": {"type": "string", "default": "hi"},
            },
            "workflow": {**GREETER["workflow"], "description": "{{ note }}"},
        }
        second = await c.update_template("greeter", changed, change_log="louder")
        assert (second.outcome, second.version, second.changeLog) == (
            "updated", 2, "louder"
        )  # fmt: skip
        with pytest.raises(Conflict, match="at version 2"):
            await c.update_template("greeter", GREETER, expected_version=1)
        old = await c.get_template("greeter", 1)
        assert (old.template or {})["parameters"]["greet_handler"]["default"] == "sendNotification"
        assert [v.version for v in await c.template_versions("greeter")] == [2, 1]
        diff = await c.diff_templates("greeter", 1, 2)
        assert diff.parameters == {
            "added": ["note"], "removed": [], "changed": ["greet_handler"]
        }  # fmt: skip
        assert diff.fields == ["workflow.description"]
        with pytest.raises(NotFound):
            await c.get_template("greeter", 7)


async def test_a_bad_template_is_refused_on_push(api: Api) -> None:
    headers = api.auth("designer")
    broken = {**GREETER, "workflow": {**GREETER["workflow"], "name": "{{ title }}"}}
    resp = await api.client.post("/api/v1/templates", json=broken, headers=headers)
    body = await resp.json()
    assert resp.status == 400, body
    assert "declares no parameter 'title'" in body["message"]
    bad_default = {**GREETER, "parameters": {**GREETER["parameters"], "wait": {
        "type": "duration", "default": "soon"}}}  # fmt: skip
    resp = await api.client.post("/api/v1/templates", json=bad_default, headers=headers)
    assert resp.status == 400 and "parameter 'wait'" in (await resp.json())["message"]
    resp = await api.client.post("/api/v1/templates", json=GREETER, headers=api.auth("operator"))
    assert resp.status == 403


async def test_use_makes_an_ordinary_workflow_and_names_a_bad_value(api: Api) -> None:
    async with _client(api, "designer") as c:
        made = await c.use_template(
            "order-saga", "checkout", {"payment_handler": "chargeCard", "payment_retries": "3"}
        )
        assert made.saved and made.template == {"id": "order-saga", "version": 1}
        stored = await c.get_workflow("checkout")
        charge = next(n for n in stored.spec()["nodes"] if n["id"] == "charge_payment")
        assert (charge["handler"], charge["retries"]) == ("chargeCard", 3)
        assert stored.spec()["metadata"]["template"] == {"id": "order-saga", "version": 1}
        with pytest.raises(Conflict):
            await c.use_template("order-saga", "checkout")

        with pytest.raises(ParameterError, match=r"'payment_handler'.*not a handler name"):
            await c.use_template("order-saga", "x1", {"payment_handler": "charge card"})
        with pytest.raises(ParameterError, match="no parameter 'colour'"):
            await c.use_template("order-saga", "x2", {"colour": "red"})
        await c.create_template(GREETER)
        with pytest.raises(ParameterError, match="'step' \\(id\\) needs a value"):
            await c.use_template("greeter", "x3")
        # A value of the right type that breaks the workflow: the node id is taken.
        with pytest.raises(SpecInvalid, match="parameter 'step' = 'pause' cannot be used") as exc:
            await c.use_template("greeter", "x4", {"step": "pause"})
        assert exc.value.details["parameter"] == "step"
        assert {e["code"] for e in exc.value.details["errors"]} >= {"DUPLICATE_NODE"}
        with pytest.raises(NotFound):
            await c.get_workflow("x4")
    async with _client(api, "operator") as c:
        preview = await c.use_template("greeter", "x5", {"step": "hello"}, save=False)
        assert not preview.saved
        assert [n["id"] for n in preview.workflow["nodes"]] == ["pause", "hello"]
        with pytest.raises(Forbidden):
            await c.use_template("greeter", "x6", {"step": "hello"})


async def test_a_template_with_schedules_makes_them(api: Api) -> None:
    async with _client(api, "designer") as c:
        made = await c.use_template(
            "nightly-report", "report", {"cron": "30 3 * * *", "timezone": "Europe/Berlin"}
        )
        assert [s["id"] for s in made.schedules] == ["report-nightly"]
        schedule = await c.get_schedule("report-nightly")
        assert (schedule.cron, schedule.timezone) == ("30 3 * * *", "Europe/Berlin")
        with pytest.raises(SpecInvalid, match="parameter 'timezone'"):
            await c.use_template("nightly-report", "r2", {"timezone": "Mars/Olympus"})


RUN_PARAMS: dict[str, dict[str, Any]] = {
    "webhook-flow": {"event": "order.created"},
    "refund-approval": {"customer": "ada", "amount": 120},
    "fan-out-batch": {"count": 6, "bad_every": 3},
}


@pytest.mark.parametrize("template_id", GALLERY)
async def test_every_shipped_template_runs_with_the_example_handlers(
    api: Api, examples_worker: None, template_id: str
) -> None:
    async with _client(api, "admin") as c:
        if template_id == "fan-out-batch":  # its items run the stored per-record workflow
            child = yaml.safe_load((EXAMPLES / "enrich-record.yaml").read_text())
            await c.create_workflow(child | {"id": "enrich-record"})
        await c.use_template(template_id, f"from-{template_id}")
        run = await c.start_run(f"from-{template_id}", RUN_PARAMS.get(template_id, {}))
        seen: dict[str, Any] = {}

        async def ended() -> bool:
            seen.update((await c.get_run(run.runId)).as_json())
            return seen["status"] not in ("pending", "running")

        async def waits(node: str) -> bool:
            seen.update((await c.get_run(run.runId)).as_json())
            return bool(seen["nodes"][node]["status"] == "waiting")

        if template_id == "refund-approval":  # a person approves, then the bank's signal
            await until(lambda: waits("manager_ok"), "the approval to be asked")
            await c.decide(run.runId, "manager_ok", approve=True, comment="known customer")
            await until(lambda: waits("bank_ok"), "the wait for the bank")
            await c.send_signal(run.runId, "refund_settled", {"settled_at": "2026-12-01"})
        await until(ended, f"the run of {template_id}")
        assert seen["status"] == "completed", seen
        if template_id == "fan-out-batch":  # 2 of 6 records bad, tolerated: both branches
            assert seen["nodes"]["archive"]["status"] == "completed"
            assert seen["nodes"]["alert"]["status"] == "completed"


async def test_using_a_template_needs_its_handlers_permissions(api: Api) -> None:
    await narrow(
        api, "designer", "handler:reserveInventory", "handler:chargePayment", "handler:ship*"
    )
    async with _client(api, "designer") as c:
        with pytest.raises(Forbidden, match="releaseInventory"):
            await c.use_template("order-saga", "checkout")
        with pytest.raises(NotFound):
            await c.get_workflow("checkout")
