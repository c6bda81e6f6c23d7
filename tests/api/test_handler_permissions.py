"""Handler permissions (``p, role, handler:NAME``): save, start, retry, schedule fires and a
policy narrowed while a run is in flight, with every refusal in the audit trail."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.api.state import STATE
from orchestrator.security.handler_gate import PublishedGate
from orchestrator.security.policy_file import POLICY_FILE
from orchestrator.store.queue_admin import as_str
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api, pipeline_spec
from tests.conftest import until

WF = "/api/v1/workflows"


async def _call(api: Api, method: str, path: str, role: str, **kw: Any) -> tuple[int, Any]:
    resp = await api.client.request(method, path, headers=api.auth(role), **kw)
    return resp.status, (await resp.json() if resp.status != 204 else None)


async def narrow(api: Api, role: str, *grants: str) -> None:
    """Replace ``role``'s ``handler:*`` line with ``grants``; wait until it is in force and
    published for the workers."""
    path = api.policies / POLICY_FILE
    line = f"p, workflow_{role}, handler:*"
    text = path.read_text()
    assert line in text
    path.write_text(text.replace(line, "\n".join(f"p, workflow_{role}, {g}" for g in grants)))
    authorizer = api.app[STATE].authorizer
    assert authorizer.reload_now()
    digest = authorizer.in_force().digest

    async def published() -> bool:
        held = await api.conn.redis.hget(api.conn.keys.policy_in_force(), "digest")
        return held is not None and as_str(held) == digest

    await until(published, "the narrowed policy published to Redis")


async def denials(api: Api, **match: str) -> list[dict[str, Any]]:
    """Denied audit entries whose fields contain the given texts."""
    _, page = await _call(api, "GET", "/api/v1/audit?limit=500", "admin")
    return [
        e
        for e in page["entries"]
        if e["outcome"] == "denied" and all(v in str(e.get(k, "")) for k, v in match.items())
    ]


async def test_saving_needs_every_handler_the_workflow_uses(api: Api) -> None:
    await narrow(api, "designer", "handler:fetch", "handler:trans*")
    status, err = await _call(api, "POST", WF, "designer", json=pipeline_spec())
    assert status == 403, err
    assert "'store'" in err["message"] and "handler:store" in err["message"]
    assert err["details"]["handler"] == "store"
    assert await denials(api, user="dee", detail="'store'")
    assert (await _call(api, "GET", f"{WF}/pipeline", "admin"))[0] == 404  # nothing stored

    allowed = pipeline_spec("two")
    allowed["nodes"] = allowed["nodes"][:2]
    allowed["edges"] = allowed["edges"][:1]
    assert (await _call(api, "POST", WF, "designer", json=allowed))[0] == 201
    # A new version may not bring the refused handler in either.
    status, err = await _call(api, "PUT", f"{WF}/two", "designer", json=pipeline_spec("two"))
    assert status == 403 and "'store'" in err["message"]
    status, _ = await _call(api, "POST", f"{WF}/two/versions", "designer", json=pipeline_spec())
    assert status == 403
    assert (await _call(api, "PUT", f"{WF}/two", "admin", json=pipeline_spec("two")))[0] == 200


async def test_starting_and_retrying_need_every_handler(api: Api) -> None:
    assert (await _call(api, "POST", WF, "designer", json=pipeline_spec()))[0] == 201
    await narrow(api, "operator", "handler:fetch", "handler:transform")
    status, err = await _call(api, "POST", f"{WF}/pipeline/runs", "operator", json={})
    assert status == 403, err
    assert "'store'" in err["message"]
    keyed = {"Idempotency-Key": "k1", **api.auth("operator")}
    resp = await api.client.post(f"{WF}/pipeline/runs", json={}, headers=keyed)
    assert resp.status == 403
    assert len(await denials(api, user="otto", detail="'store'")) == 2
    _, runs = await _call(api, "GET", "/api/v1/runs", "admin")
    assert runs["runs"] == []

    # The admin (handler:*) starts it; cancelled, its retry by the operator is refused.
    status, run = await _call(api, "POST", f"{WF}/pipeline/runs", "admin", json={})
    assert status == 201
    assert run["metadata"]["runAs"] == "ada"
    run_id = run["runId"]
    assert (await _call(api, "DELETE", f"/api/v1/runs/{run_id}", "operator"))[0] == 204
    status, err = await _call(api, "POST", f"/api/v1/runs/{run_id}/retry", "operator", json={})
    assert status == 403 and "'store'" in err["message"]
    status, err = await _call(api, "POST", f"/api/v1/runs/{run_id}/nodes/fetch/retry", "operator")
    assert status == 403
    assert await denials(api, user="otto", detail=f"retry run {run_id}")


async def test_a_schedule_fires_with_its_owners_permissions(api: Api) -> None:
    assert (await _call(api, "POST", WF, "designer", json=pipeline_spec()))[0] == 201
    body = {"id": "tick", "workflowId": "pipeline", "every": "1s", "overlap": "allow"}
    assert (await _call(api, "POST", "/api/v1/schedules", "designer", json=body))[0] == 201

    async def outcomes() -> list[dict[str, Any]]:
        _, view = await _call(api, "GET", "/api/v1/schedules/tick", "admin")
        found: list[dict[str, Any]] = view["outcomes"]
        return found

    async def started() -> bool:
        return any(o["status"] == "started" for o in await outcomes())

    await until(started, "a fire of the schedule while its owner may run every handler")
    _, first = await _call(api, "GET", f"/api/v1/runs/{(await outcomes())[0]['runId']}", "admin")
    assert first["metadata"]["runAs"] == "dee"

    await narrow(api, "designer", "handler:fetch", "handler:transform")

    async def refused() -> bool:
        return any(o["status"] == "failed" and "'store'" in o["error"] for o in await outcomes())

    await until(refused, "a fire refused once the owner lost handler:store")
    entries = await denials(api, user="dee", action="fireSchedule", detail="'store'")
    assert entries and entries[0]["source"] == "scheduler"
    # Saving it again is refused too: its owner may not run the workflow.
    status, err = await _call(api, "PUT", "/api/v1/schedules/tick", "designer", json=body)
    assert status == 403 and "'store'" in err["message"]


class Gate:
    """Holds the ``fetch`` handler until opened."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.open = asyncio.Event()
        self.stored = 0


def _registry(gate: Gate) -> Registry:
    reg = Registry()

    async def fetch(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        gate.entered.set()
        await gate.open.wait()
        return {"records": 1}

    def transform(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"doubled": 2}

    def store(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        gate.stored += 1
        return {}

    for fn in (fetch, transform, store):
        reg.register(fn.__name__, fn)
    return reg


@pytest.fixture
async def gated(api: Api) -> AsyncIterator[Gate]:
    gate = Gate()
    stop = asyncio.Event()
    # Asks the published policy before every attempt (the default asks at most once a second).
    published = PublishedGate(api.conn.redis, api.conn.keys, refresh_s=0.0)
    w = Worker(
        api.conn.redis, api.conn.keys, api.settings, _registry(gate), concurrency=2, gate=published
    )
    task = asyncio.create_task(w.run(stop))
    yield gate
    gate.open.set()
    stop.set()
    await task


async def test_a_policy_narrowed_mid_run_stops_the_next_node(api: Api, gated: Gate) -> None:
    spec = pipeline_spec()
    spec["nodes"][2]["retries"] = 3  # a revoked permission is not retried anyway
    assert (await _call(api, "POST", WF, "designer", json=spec))[0] == 201
    status, run = await _call(api, "POST", f"{WF}/pipeline/runs", "operator", json={})
    assert status == 201
    await asyncio.wait_for(gated.entered.wait(), 30)

    await narrow(api, "operator", "handler:fetch", "handler:transform")
    gated.open.set()
    run_id = run["runId"]

    async def ended() -> bool:
        _, view = await _call(api, "GET", f"/api/v1/runs/{run_id}", "admin")
        return bool(view["status"] in ("failed", "completed"))

    await until(ended, "the run to end")
    _, view = await _call(api, "GET", f"/api/v1/runs/{run_id}", "admin")
    assert view["status"] == "failed"
    nodes = {n["nodeId"]: n for n in (await _call(api, "GET", f"/api/v1/runs/{run_id}/nodes",
                                                   "admin"))[1]["nodes"]}  # fmt: skip
    assert nodes["fetch"]["status"] == "completed"
    assert nodes["transform"]["status"] == "completed"
    assert nodes["store"]["status"] == "failed"
    assert "permission revoked" in nodes["store"]["error"]
    assert nodes["store"]["attempts"] == 1  # not retried
    assert gated.stored == 0
    entries = await denials(api, user="otto", action="runHandler", resource="handler store")
    assert entries and entries[0]["source"] == "worker"


def test_shipped_policy_grants_every_handler_to_every_role(tmp_path: Path) -> None:
    from orchestrator.security.policy_file import ensure_policies_dir
    from orchestrator.security.rbac import Authorizer
    from orchestrator.security.users import UserStore

    directory = ensure_policies_dir(tmp_path)
    store = UserStore.in_dir(directory)
    for name, role in (("d", "designer"), ("o", "operator"), ("a", "admin")):
        store.add(name, role)
    authorizer = Authorizer.from_dir(directory)
    for user in ("d", "o", "a"):
        assert authorizer.allowed(user, "handler:billing.charge")
    assert not authorizer.allowed("stranger", "handler:billing.charge")


async def test_a_webhook_delivers_with_its_creators_permissions(api: Api) -> None:
    assert (await _call(api, "POST", WF, "designer", json=pipeline_spec()))[0] == 201
    status, hook = await _call(
        api, "POST", "/api/v1/hooks", "designer", json={"workflowId": "pipeline"}
    )
    assert status == 201, hook
    assert hook["createdBy"] == "dee"

    async def deliver(body: bytes) -> tuple[int, Any]:
        ts = str(int(time.time()))
        mac = hmac.new(hook["secret"].encode(), ts.encode() + b"." + body, hashlib.sha256)
        headers = {"X-Dagq-Timestamp": ts, "X-Dagq-Signature": f"sha256={mac.hexdigest()}"}
        resp = await api.client.post(f"/hooks/{hook['id']}", data=body, headers=headers)
        return resp.status, await resp.json()

    status, accepted = await deliver(b'{"records": 1}')
    assert status == 202, accepted
    _, run = await _call(api, "GET", f"/api/v1/runs/{accepted['runId']}", "admin")
    assert run["metadata"]["runAs"] == "dee"

    await narrow(api, "designer", "handler:fetch", "handler:transform")
    status, err = await deliver(b'{"records": 2}')
    assert status == 403 and "'store'" in err["message"]
    assert await denials(api, user=f"hook:{hook['id']}", detail="'store'")
