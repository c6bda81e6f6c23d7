"""Managing users over the API (what the Admin screen does): add, change role, disable,
new API key, password; each change is in force at once and on the audit trail, a refused
attempt too, and no secret ever reaches the trail."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

USERS = "/api/v1/system/users"


async def whoami(api: Api, key: str) -> tuple[int, dict[str, Any]]:
    """Status and body of ``GET /whoami`` with ``key``."""
    resp = await api.client.get("/api/v1/whoami", headers={"X-API-Key": key})
    return resp.status, (await resp.json() if resp.status == 200 else {})


async def audit(api: Api) -> list[dict[str, Any]]:
    """The audit trail, newest first."""
    resp = await api.client.get("/api/v1/audit", headers=api.auth("admin"))
    return list((await resp.json())["entries"])


async def test_add_change_disable_key_and_password(api: Api) -> None:
    admin = api.auth("admin")
    resp = await api.client.post(
        USERS, json={"name": "bea", "role": "operator", "password": "long enough pw"}, headers=admin
    )
    assert resp.status == 201
    created = await resp.json()
    assert created["user"]["role"] == "workflow_operator" and created["user"]["hasPassword"]
    key = created["apiKey"]
    status, me = await whoami(api, key)
    assert status == 200 and me["role"] == "workflow_operator"  # in force at once

    resp = await api.client.patch(f"{USERS}/bea", json={"role": "designer"}, headers=admin)
    assert resp.status == 200 and (await resp.json())["policyRole"] == "workflow_designer"
    status, me = await whoami(api, key)
    assert me["role"] == "workflow_designer" and "workflow:create" in me["permissions"]

    resp = await api.client.post(f"{USERS}/bea/keys", headers=admin)
    assert resp.status == 201
    new_key = (await resp.json())["apiKey"]
    assert (await whoami(api, key))[0] == 401  # the older key stops working now
    assert (await whoami(api, new_key))[0] == 200

    resp = await api.client.patch(f"{USERS}/bea", json={"disabled": True}, headers=admin)
    assert resp.status == 200 and (await resp.json())["disabled"] is True
    assert (await whoami(api, new_key))[0] == 401
    resp = await api.client.patch(f"{USERS}/bea", json={"disabled": False}, headers=admin)
    assert (await whoami(api, new_key))[0] == 200

    resp = await api.client.put(f"{USERS}/bea/password", json={"password": None}, headers=admin)
    assert resp.status == 200 and (await resp.json())["hasPassword"] is False

    actions = [(e["action"], e["outcome"], e["resource"]) for e in await audit(api)]
    for action in ("createUser", "changeUser", "issueUserKey", "setUserPassword"):
        assert any(a == action and o == "allowed" for a, o, _ in actions), action
    trail = (api.settings.data_dir / "audit.jsonl").read_text()
    assert key not in trail and new_key not in trail and "long enough pw" not in trail
    assert any(e.get("detail") == "user bea" for e in await audit(api))


async def test_bad_requests_say_what_is_wrong(api: Api) -> None:
    admin = api.auth("admin")
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", USERS, {"name": "cy", "role": "boss"}, 400, "unknown role 'boss'"),
        ("POST", USERS, {"name": "cy", "role": "operator", "password": "short"}, 400, "characters"),
        ("POST", USERS, {"name": "otto", "role": "operator"}, 409, "exists already"),
        ("PATCH", f"{USERS}/nobody", {"role": "admin"}, 404, "no user called 'nobody'"),
        ("PATCH", f"{USERS}/otto", {}, 400, "nothing to change"),
        ("PATCH", f"{USERS}/ada", {"disabled": True}, 409, "admin"),  # the last admin
        ("POST", f"{USERS}/nobody/keys", None, 404, "no user called 'nobody'"),
    ]
    for method, path, body, status, words in cases:
        resp = await api.client.request(method, path, json=body, headers=admin)
        answer = await resp.json()
        assert resp.status == status, (path, body, answer)
        assert words in answer["message"], (path, body, answer)
    assert (await whoami(api, api.keys["admin"]))[0] == 200


async def test_a_refused_attempt_is_audited_by_the_server(api: Api) -> None:
    resp = await api.client.post(
        USERS,
        json={"name": "mal", "role": "admin"},
        headers={**api.auth("operator"), "X-Request-Id": "req-escalate"},
    )
    assert resp.status == 403
    entry = next(e for e in await audit(api) if e["requestId"] == "req-escalate")
    assert (entry["user"], entry["action"], entry["outcome"]) == ("otto", "createUser", "denied")
    resp = await api.client.get(USERS, headers=api.auth("admin"))
    assert "mal" not in [u["name"] for u in (await resp.json())["users"]]
