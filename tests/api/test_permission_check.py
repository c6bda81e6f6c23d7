"""``POST /auth/check``: the app's local refusals reach the server's audit trail."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

CHECK = "/api/v1/auth/check"


async def _entries(api: Api) -> list[dict[str, Any]]:
    resp = await api.client.get("/api/v1/audit", headers=api.auth("admin"))
    assert resp.status == 200
    entries: list[dict[str, Any]] = (await resp.json())["entries"]
    return entries


async def test_a_denied_check_is_audited_with_the_action(api: Api) -> None:
    resp = await api.client.post(
        CHECK,
        json={"permission": "workflow:execute", "resource": "wf-1", "action": "start a run"},
        headers=api.auth("designer"),
    )
    assert resp.status == 200
    answer = await resp.json()
    assert answer["allowed"] is False
    assert "workflow:execute" in answer["reason"]
    denied = [e for e in await _entries(api) if e["action"] == "workflow:execute"]
    assert len(denied) == 1
    entry = denied[0]
    assert entry["user"] == "dee"
    assert entry["role"] == "workflow_designer"
    assert entry["resource"] == "wf-1"
    assert entry["outcome"] == "denied"
    assert entry["status"] == 403
    assert "start a run" in entry["detail"]


async def test_an_allowed_check_is_not_audited(api: Api) -> None:
    resp = await api.client.post(
        CHECK,
        json={"permission": "workflow:execute", "action": "start a run"},
        headers=api.auth("operator"),
    )
    assert resp.status == 200
    assert (await resp.json())["allowed"] is True
    assert not [e for e in await _entries(api) if e["user"] == "otto"]


async def test_bad_checks_are_clear_400s(api: Api) -> None:
    bad: list[Any] = [
        {"permission": "workflow:fly", "action": "fly"},
        {"permission": "workflow:execute"},
        {"permission": "workflow:execute", "action": ""},
        {"permission": "workflow:execute", "action": "run\x1b[2J"},
        {"permission": "workflow:execute", "action": "run", "extra": 1},
        ["workflow:execute"],
    ]
    for body in bad:
        resp = await api.client.post(CHECK, json=body, headers=api.auth("designer"))
        assert resp.status == 400, body
        err = await resp.json()
        assert err["error"] and err["message"], body
    unknown = await api.client.post(
        CHECK, json={"permission": "workflow:fly", "action": "x"}, headers=api.auth("designer")
    )
    assert "unknown permission 'workflow:fly'" in (await unknown.json())["message"]
    anonymous = await api.client.post(CHECK, json={"permission": "run:read", "action": "x"})
    assert anonymous.status == 401
