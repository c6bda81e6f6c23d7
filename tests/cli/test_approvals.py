"""Approvals and signals end to end: the real API, a real worker and orchestrator, the CLI.

Issue 13's "Done when": approve, reject, two approvers, one person twice, timeouts with
each ``on_timeout``, early, late and unknown signals, the deferred choice with
``cancel_remaining``, a decision racing the timeout, the audit trail.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.api.state import STATE
from orchestrator.security.users import UserStore
from tests.api.conftest import Api
from tests.cli.conftest import EXAMPLES, Cli
from tests.conftest import until

pytestmark = pytest.mark.usefixtures("worker")


async def _push(api: Api, spec: dict[str, Any]) -> None:
    resp = await api.client.post("/api/v1/workflows", json=spec, headers=api.auth("designer"))
    assert resp.status == 201, await resp.text()


async def _start(api: Api, workflow: str, params: dict[str, Any] | None = None) -> str:
    resp = await api.client.post(
        f"/api/v1/workflows/{workflow}/runs",
        json={"parameters": params or {}},
        headers=api.auth("operator"),
    )
    assert resp.status == 201, await resp.text()
    run_id: str = (await resp.json())["runId"]
    return run_id


async def _run(api: Api, run_id: str) -> dict[str, Any]:
    resp = await api.client.get(f"/api/v1/runs/{run_id}", headers=api.auth("operator"))
    view: dict[str, Any] = await resp.json()
    return view


async def _node_is(api: Api, run_id: str, node: str, status: str) -> None:
    async def check() -> bool:
        return bool((await _run(api, run_id))["nodes"][node]["status"] == status)

    await until(check, f"{node} of {run_id} {status}")


async def _ends(api: Api, run_id: str) -> dict[str, Any]:
    async def check() -> bool:
        return (await _run(api, run_id))["status"] in ("completed", "failed", "cancelled")

    await until(check, f"{run_id} ends")
    return await _run(api, run_id)


async def _decide(
    api: Api, run_id: str, node: str, approve: bool, role: str = "operator", comment: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    resp = await api.client.post(
        f"/api/v1/runs/{run_id}/nodes/{node}/decision",
        json={"approve": approve, "comment": comment},
        headers=headers or api.auth(role),
    )
    return resp.status, await resp.json()


async def _signal(
    api: Api, run_id: str, name: str, payload: dict[str, Any], role: str = "operator"
) -> tuple[int, dict[str, Any]]:
    resp = await api.client.post(
        f"/api/v1/runs/{run_id}/signals/{name}", json=payload, headers=api.auth(role)
    )
    return resp.status, await resp.json()


def approval_spec(wf: str = "appr", **approval: Any) -> dict[str, Any]:
    return {
        "id": wf,
        "name": wf,
        "parameters": {"amount": {"type": "number", "default": 40}},
        "nodes": [
            {"id": "prep", "type": "task", "handler": "fetchData"},
            {"id": "ok", "type": "approval", "message": "Refund {{ params.amount }}?", **approval},
            {"id": "yes", "type": "task", "handler": "validateData"},
            {"id": "no", "type": "task", "handler": "sendNotification"},
        ],
        "edges": [
            {"source": "prep", "target": "ok"},
            {"source": "ok", "target": "yes", "condition": True},
            {"source": "ok", "target": "no", "condition": False},
        ],
    }


async def _users(api: Api, *names: str) -> dict[str, dict[str, str]]:
    """More operators (one API key each)."""
    store = UserStore.in_dir(api.policies)
    out = {}
    for name in names:
        _, key = store.add(name, "operator")
        out[name] = {"X-API-Key": key}
    api.app[STATE].authorizer.reload_now()
    return out


async def test_approve_with_the_cli_and_the_run_takes_the_true_branch(api: Api, cli: Cli) -> None:
    await _push(api, approval_spec())
    run_id = await _start(api, "appr")
    await _node_is(api, run_id, "ok", "waiting")
    view = (await _run(api, run_id))["nodes"]["ok"]["approval"]
    assert view["message"] == "Refund 40?"
    assert view["required"] == 1 and view["decisions"] == []
    listed = await cli("approvals", "ls", "--json", role="operator")
    assert [a["runId"] for a in json.loads(listed.stdout)["approvals"]] == [run_id]
    done = await cli("runs", "approve", run_id, "ok", "-m", "fine by me", role="operator")
    assert done.exit_code == 0, done.output
    assert "the step is approved" in done.output
    final = await _ends(api, run_id)
    assert final["status"] == "completed"
    assert final["nodes"]["yes"]["status"] == "completed"
    assert final["nodes"]["no"]["status"] == "skipped"
    [d] = final["nodes"]["ok"]["output"]["decisions"]
    assert (d["approved"], d["comment"], d["role"]) == (True, "fine by me", "workflow_operator")
    # a decision after the end is refused with the reason, exit 3
    late = await cli("runs", "approve", run_id, "ok", role="admin")
    assert late.exit_code == 3
    assert "is completed" in late.output
    empty = await cli("approvals", "ls", role="operator")
    assert "no approval is waiting for you" in empty.output


async def test_reject_takes_the_false_branch_and_is_audited(api: Api, cli: Cli) -> None:
    await _push(api, approval_spec())
    run_id = await _start(api, "appr")
    await _node_is(api, run_id, "ok", "waiting")
    out = await cli("runs", "reject", run_id, "ok", "-m", "too much", role="operator")
    assert out.exit_code == 0, out.output
    final = await _ends(api, run_id)
    assert final["nodes"]["no"]["status"] == "completed"
    assert final["nodes"]["ok"]["output"]["approved"] is False
    resp = await api.client.get("/api/v1/audit", headers=api.auth("admin"))
    entries = (await resp.json())["entries"]
    [entry] = [e for e in entries if e.get("action") == "decideApproval"]
    assert entry["user"] == "otto" and entry["outcome"] == "allowed"
    assert "reject ok: too much" in entry["detail"]


async def test_two_approvers_and_one_person_twice(api: Api) -> None:
    more = await _users(api, "olga", "omar")
    await _push(api, approval_spec(required=2))
    run_id = await _start(api, "appr")
    await _node_is(api, run_id, "ok", "waiting")
    status, node = await _decide(api, run_id, "ok", True, headers=more["olga"])
    assert status == 200 and node["status"] == "waiting"
    assert node["approval"]["approvals"] == 1
    status, err = await _decide(api, run_id, "ok", True, headers=more["olga"])
    assert status == 409 and err["error"] == "ALREADY_DECIDED"
    assert "olga already approved" in err["message"]
    status, node = await _decide(api, run_id, "ok", True, headers=more["omar"])
    assert status == 200 and node["status"] == "completed"
    final = await _ends(api, run_id)
    assert [d["by"] for d in final["nodes"]["ok"]["output"]["decisions"]] == ["olga", "omar"]


async def test_approvers_pressing_at_once_each_count_once(api: Api) -> None:
    names = [f"op{i}" for i in range(5)]
    more = await _users(api, *names)
    await _push(api, approval_spec(required=5))
    run_id = await _start(api, "appr")
    await _node_is(api, run_id, "ok", "waiting")
    # everyone twice, all at once: five count, five are refused
    results = await asyncio.gather(
        *(_decide(api, run_id, "ok", True, headers=more[n]) for n in names + names)
    )
    assert sorted(s for s, _ in results) == [200] * 5 + [409] * 5
    final = await _ends(api, run_id)
    assert sorted(d["by"] for d in final["nodes"]["ok"]["output"]["decisions"]) == names
    assert final["nodes"]["yes"]["status"] == "completed"


async def test_a_designer_may_not_decide_and_others_only_if_named(api: Api) -> None:
    await _push(api, approval_spec(approvers={"users": ["ada"]}))
    run_id = await _start(api, "appr")
    await _node_is(api, run_id, "ok", "waiting")
    status, err = await _decide(api, run_id, "ok", True, role="designer")
    assert status == 403
    status, err = await _decide(api, run_id, "ok", True, role="operator")
    assert status == 403 and err["error"] == "NOT_AN_APPROVER"
    assert "only user ada" in err["message"]
    resp = await api.client.get("/api/v1/approvals", headers=api.auth("operator"))
    assert (await resp.json())["approvals"] == []
    status, _ = await _decide(api, run_id, "ok", True, role="admin")
    assert status == 200


@pytest.mark.parametrize(
    ("on_timeout", "run_status", "branch"),
    [("approve", "completed", "yes"), ("reject", "completed", "no"), ("fail", "failed", None)],
)
async def test_an_approval_timeout(
    api: Api, on_timeout: str, run_status: str, branch: str | None
) -> None:
    await _push(api, approval_spec(timeout="300ms", on_timeout=on_timeout))
    run_id = await _start(api, "appr")
    final = await _ends(api, run_id)
    assert final["status"] == run_status
    if branch is not None:
        assert final["nodes"][branch]["status"] == "completed"
        assert final["nodes"]["ok"]["output"]["timed_out"] is True
    status, err = await _decide(api, run_id, "ok", True)
    assert status == 409
    assert "timed out" in err["message"] or err["error"] == "RUN_ENDED", err


async def test_decisions_racing_the_timeout_count_exactly_when_they_won(api: Api) -> None:
    more = await _users(api, "olga", "omar", "oscar")
    await _push(api, approval_spec(required=3, timeout="600ms", on_timeout="reject"))
    run_id = await _start(api, "appr")
    await _node_is(api, run_id, "ok", "waiting")
    due = datetime.fromisoformat((await _run(api, run_id))["nodes"]["ok"]["dueTime"])

    async def near_due() -> bool:
        return datetime.now(UTC) >= due - timedelta(milliseconds=30)

    await until(near_due, "the approval's deadline is near")
    results = await asyncio.gather(
        *(_decide(api, run_id, "ok", True, headers=more[n]) for n in ("olga", "omar", "oscar"))
    )
    final = await _ends(api, run_id)
    output = final["nodes"]["ok"]["output"]
    counted = {n for n, (status, _) in zip(("olga", "omar", "oscar"), results, strict=True)
               if status == 200}  # fmt: skip
    for status, body in results:
        assert status == 200 or body["error"] in ("TIMED_OUT", "NOT_WAITING", "RUN_ENDED"), body
    # each accepted decision is in the output once; each refused one is not
    assert sorted(d["by"] for d in output["decisions"]) == sorted(counted)
    assert output["approved"] is (len(counted) == 3)
    assert output.get("timed_out", False) is (len(counted) < 3)


def signal_spec(wf: str = "sig", **signal: Any) -> dict[str, Any]:
    return {
        "id": wf,
        "name": wf,
        "nodes": [
            {"id": "prep", "type": "task", "handler": "fetchData"},
            {"id": "paid", "type": "signal", "signal": "payment", **signal},
            {"id": "after", "type": "task", "handler": "validateData"},
        ],
        "edges": [{"source": "prep", "target": "paid"}, {"source": "paid", "target": "after"}],
    }


async def test_signals_early_late_and_unknown(api: Api, cli: Cli) -> None:
    await _push(api, signal_spec())
    run_id = await _start(api, "sig")
    await _node_is(api, run_id, "paid", "waiting")
    status, body = await _signal(api, run_id, "nope", {})
    assert status == 404 and body["error"] == "UNKNOWN_SIGNAL"
    assert "never waits for signal 'nope'" in body["message"]
    out = await cli("runs", "signal", run_id, "payment", "--data", '{"record_count": 7}',
                    role="operator")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "delivered to paid" in out.output
    final = await _ends(api, run_id)
    assert final["status"] == "completed"
    assert final["nodes"]["paid"]["output"] == {"record_count": 7}
    late = await cli("runs", "signal", run_id, "payment", role="operator")
    assert late.exit_code == 3 and "is completed" in late.output
    unknown = await cli("runs", "signal", run_id, "nope", role="operator")
    assert unknown.exit_code == 3
    assert (await cli("runs", "signal", run_id, "payment", role="designer")).exit_code == 3
    bad = await cli("runs", "signal", run_id, "payment", "--data", "[1]", role="operator")
    assert bad.exit_code == 2 and "JSON object" in bad.output


async def test_an_early_signal_is_kept_until_its_node_waits(api: Api) -> None:
    spec = signal_spec("early")
    spec["nodes"].insert(1, {"id": "hold", "type": "approval"})
    spec["edges"] = [
        {"source": "prep", "target": "hold"},
        {"source": "hold", "target": "paid", "condition": True},
        {"source": "paid", "target": "after"},
    ]
    await _push(api, spec)
    run_id = await _start(api, "early")
    await _node_is(api, run_id, "hold", "waiting")
    status, body = await _signal(api, run_id, "payment", {"record_count": 3})
    assert (status, body["kept"], body["delivered"]) == (202, True, None)
    assert (await _run(api, run_id))["keptSignals"] == {"payment": 1}
    assert (await _decide(api, run_id, "hold", True))[0] == 200
    final = await _ends(api, run_id)
    assert final["status"] == "completed"
    assert final["nodes"]["paid"]["output"] == {"record_count": 3}


@pytest.mark.parametrize(("on_timeout", "status"), [("fail", "failed"), ("continue", "completed")])
async def test_a_signal_timeout(api: Api, on_timeout: str, status: str) -> None:
    await _push(api, signal_spec(timeout="300ms", on_timeout=on_timeout))
    run_id = await _start(api, "sig")
    final = await _ends(api, run_id)
    assert final["status"] == status
    if status == "completed":
        assert final["nodes"]["paid"]["output"] == {"timed_out": True}
    code, _ = await _signal(api, run_id, "payment", {})
    assert code == 409


async def test_deferred_choice_cancels_the_branch_that_lost(api: Api) -> None:
    spec = {
        "id": "choice",
        "name": "choice",
        "nodes": [
            {"id": "fork", "type": "parallel"},
            {"id": "paid", "type": "signal", "signal": "paid"},
            {"id": "refused", "type": "signal", "signal": "refused"},
            {"id": "first", "type": "parallel", "join": "any", "cancel_remaining": True},
            {"id": "route", "type": "exclusive"},
            {"id": "ship", "type": "task", "handler": "validateData"},
            {"id": "stop", "type": "task", "handler": "sendNotification"},
        ],
        "edges": [
            {"source": "fork", "target": "paid"},
            {"source": "fork", "target": "refused"},
            {"source": "paid", "target": "first"},
            {"source": "refused", "target": "first"},
            {"source": "first", "target": "route"},
            {"source": "route", "target": "ship", "condition": "output.paid == True"},
            {"source": "route", "target": "stop", "default": True},
        ],
    }
    await _push(api, spec)
    run_id = await _start(api, "choice")
    await _node_is(api, run_id, "refused", "waiting")
    status, _ = await _signal(api, run_id, "paid", {"paid": True, "record_count": 1})
    assert status == 202
    final = await _ends(api, run_id)
    assert final["status"] == "completed"
    assert final["nodes"]["refused"]["status"] == "cancelled"
    assert final["nodes"]["ship"]["status"] == "completed"
    assert final["nodes"]["stop"]["status"] == "skipped"
    events = await api.client.get(f"/api/v1/runs/{run_id}/events", headers=api.auth("operator"))
    types = [e["type"] for e in (await events.json())["events"]]
    assert "branch_cancelled" in types and "signal_received" in types
    code, _ = await _signal(api, run_id, "refused", {})
    assert code == 409


async def test_the_refund_example_end_to_end(api: Api, cli: Cli) -> None:
    assert (await cli("workflows", "push", str(EXAMPLES / "refund-approval.yaml"),
                      role="designer")).exit_code == 0  # fmt: skip
    started = await cli("runs", "start", "refund-approval", "--param", "customer=ada",
                        "--param", "amount=120", role="operator")  # fmt: skip
    run_id = started.stdout.strip()
    await _node_is(api, run_id, "manager_ok", "waiting")
    listed = await cli("approvals", "ls", role="operator")
    assert "Refund 120 EUR to ada? Risk: low" in listed.output
    assert (await cli("runs", "approve", run_id, "manager_ok", role="operator")).exit_code == 0
    await _node_is(api, run_id, "bank_ok", "waiting")
    sent = await cli("runs", "signal", run_id, "refund_settled", "--data",
                     '{"settled_at": "2026-12-01"}', role="operator")  # fmt: skip
    assert sent.exit_code == 0, sent.output
    final = await _ends(api, run_id)
    assert final["status"] == "completed"
    assert final["nodes"]["tell_customer"]["output"] == {
        "notified": "ada",
        "settled_at": "2026-12-01",
    }
