"""Rate limits, audit entries, policy hot reload, and the unauthenticated endpoints."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from orchestrator.settings import Settings
from tests.api.conftest import Api, AppFactory, make_settings, pipeline_spec


async def _poll(check: object, timeout_s: float = 5.0) -> None:
    """Await ``check()`` until it is truthy, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await check():  # type: ignore[operator]
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_rate_limit_429_with_retry_after(
    make_api: AppFactory, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(
        redis_url,
        key_prefix,
        tmp_path / "data",
        security={"rate_limiting": {"create_workflow": "2/min", "start_run": "1000/min"}},
    )
    api = await make_api(settings)
    h = api.auth("designer")
    for n in range(2):
        resp = await api.client.post("/api/v1/workflows", json=pipeline_spec(f"w{n}"), headers=h)
        assert resp.status == 201
    over = await api.client.post("/api/v1/workflows", json=pipeline_spec("w9"), headers=h)
    assert over.status == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert (await over.json())["error"] == "RATE_LIMITED"
    # Per user: the admin still has its own budget.
    other = await api.client.post(
        "/api/v1/workflows", json=pipeline_spec("w3"), headers=api.auth("admin")
    )
    assert other.status == 201


async def test_concurrent_run_limit_is_429(
    make_api: AppFactory, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(
        redis_url, key_prefix, tmp_path / "data", execution={"max_concurrent_runs": 1}
    )
    api = await make_api(settings, orchestrator=False)
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    op = api.auth("operator")
    first = await api.client.post("/api/v1/workflows/pipeline/runs", headers=op)
    assert first.status == 201
    second = await api.client.post("/api/v1/workflows/pipeline/runs", headers=op)
    assert second.status == 429
    assert (await second.json())["error"] == "LIMIT_EXCEEDED"
    assert second.headers["Retry-After"]


async def test_audit_records_mutations_and_denials(api: Api) -> None:
    created = await api.client.post(
        "/api/v1/workflows",
        json=pipeline_spec(),
        headers={**api.auth("designer"), "X-Request-Id": "req-create-1"},
    )
    assert created.status == 201
    denied = await api.client.post(
        "/api/v1/workflows/pipeline/runs",
        headers={**api.auth("designer"), "X-Request-Id": "req-denied-1"},
    )
    assert denied.status == 403
    anonymous = await api.client.delete("/api/v1/workflows/pipeline")
    assert anonymous.status == 401
    read = await api.client.get("/api/v1/workflows", headers=api.auth("designer"))
    assert read.status == 200

    resp = await api.client.get("/api/v1/audit", headers=api.auth("admin"))
    entries = (await resp.json())["entries"]
    by_request = {e["requestId"]: e for e in entries}
    create = by_request["req-create-1"]
    assert (create["user"], create["role"], create["action"], create["outcome"]) == (
        "dee",
        "workflow_designer",
        "createWorkflow",
        "allowed",
    )
    assert create["status"] == 201
    assert create["resource"] == "POST /api/v1/workflows"
    deny = by_request["req-denied-1"]
    assert (deny["outcome"], deny["status"], deny["action"]) == ("denied", 403, "startWorkflowRun")
    # A stranger's refusal is counted apart, never an entry that could push users' out.
    assert not any(e["status"] == 401 for e in entries)
    strangers = await api.client.get("/api/v1/audit/strangers", headers=api.auth("admin"))
    [minute] = (await strangers.json())["minutes"]
    assert minute["total"] == 1 and minute["addresses"] == [{"address": "127.0.0.1", "count": 1}]
    assert not any(e["action"] == "listWorkflows" for e in entries)  # reads are not audited
    only_denied = await api.client.get("/api/v1/audit?outcome=denied", headers=api.auth("admin"))
    assert {e["outcome"] for e in (await only_denied.json())["entries"]} == {"denied"}
    audit_file = api.settings.data_dir / "audit.jsonl"
    assert "req-create-1" in audit_file.read_text()


async def test_policy_hot_reload_and_broken_file(api: Api) -> None:
    policy = api.policies / "policy.csv"
    op = api.auth("operator")
    assert (await api.client.post("/api/v1/validate", json={}, headers=op)).status == 403
    good = policy.read_text()
    policy.write_text(good + "p, workflow_operator, workflow:validate\n")

    async def operator_may_validate() -> bool:
        resp = await api.client.post("/api/v1/validate", json={}, headers=op)
        return resp.status == 200

    await _poll(operator_may_validate, timeout_s=2.0)  # the design's bound

    policy.write_text(good + "p, workflow_operator\n")  # wrong field count: rejected

    async def shows_error() -> bool:
        resp = await api.client.get("/api/v1/system/policy", headers=api.auth("admin"))
        status = await resp.json()
        return bool(status["inError"])

    await _poll(shows_error, timeout_s=2.0)
    status = await (await api.client.get("/api/v1/system/policy", headers=api.auth("admin"))).json()
    assert "line" in status["lastError"]
    # The last good policy (with the operator's new permission) stays in force.
    assert await operator_may_validate()


async def test_revoked_key_stops_working(api: Api) -> None:
    from orchestrator.security.users import UserStore

    h = api.auth("designer")
    assert (await api.client.get("/api/v1/whoami", headers=h)).status == 200
    UserStore.in_dir(api.policies).rotate("dee")

    async def refused() -> bool:
        return (await api.client.get("/api/v1/whoami", headers=h)).status == 401

    await _poll(refused, timeout_s=4.0)


async def test_health_ready_metrics_openapi(api: Api, settings: Settings) -> None:
    assert (await (await api.client.get("/healthz")).json()) == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status == 200
    await api.client.get("/api/v1/workflows", headers=api.auth("admin"))
    metrics = await (await api.client.get("/metrics")).text()
    assert 'dagq_http_requests_total{method="GET",route="/api/v1/workflows",status="200"}' in (
        metrics
    )
    assert "dagq_http_request_duration_seconds_bucket" in metrics
    assert 'dagq_runs_active{status="running"}' in metrics
    doc = await (await api.client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    assert doc["paths"]["/api/v1/workflows/{workflowId}/runs"]["post"]["operationId"] == (
        "startWorkflowRun"
    )
    users = await (await api.client.get("/api/v1/system/users", headers=api.auth("admin"))).json()
    assert {u["name"]: u["policyRole"] for u in users["users"]} == {
        "ada": "workflow_admin",
        "dee": "workflow_designer",
        "otto": "workflow_operator",
    }
    assert "sha256" not in str(users)
    queues = await (await api.client.get("/api/v1/queues", headers=api.auth("operator"))).json()
    assert queues["deadLetters"] == 0
    handlers = await (await api.client.get("/api/v1/handlers", headers=api.auth("designer"))).json()
    assert handlers == {"handlers": []}
    dlq = await api.client.get("/api/v1/queues/dead-letters", headers=api.auth("admin"))
    assert (await dlq.json()) == {"deadLetters": []}
    requeue = await api.client.post(
        "/api/v1/queues/dead-letters/requeue", json={"ids": ["1-0"]}, headers=api.auth("admin")
    )
    assert (await requeue.json()) == {"requeued": 0}


async def test_auth_and_rbac_switches(
    make_api: AppFactory, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    open_settings = make_settings(
        redis_url,
        key_prefix,
        tmp_path / "data",
        security={"auth_required": False, "rbac_enabled": False},
    )
    api = await make_api(open_settings, orchestrator=False)
    me = await (await api.client.get("/api/v1/whoami")).json()
    assert (me["user"], me["auth"]) == ("anonymous", "none")
    assert (await api.client.get("/api/v1/audit")).status == 200
    # A wrong key is still refused: turning authentication off does not accept bad credentials.
    wrong = await api.client.get("/api/v1/whoami", headers={"X-API-Key": "nope"})
    assert wrong.status == 401
