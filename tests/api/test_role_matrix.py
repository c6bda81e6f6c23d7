"""Every route x every kind of caller, generated from the route table.

The expected outcome comes from the design's Access Control Model (written out here,
independently of policy.csv): a route added to the table is checked automatically,
and a route registered outside the table fails ``test_every_route_is_in_the_table``.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.api.middleware import ROUTE_INDEX
from orchestrator.api.routes import AUTHENTICATED, PUBLIC, ROUTES, Route
from orchestrator.api.state import STATE
from orchestrator.security import tokens
from orchestrator.security.policy_file import set_user_role
from orchestrator.security.users import UserStore
from tests.api.conftest import Api

DESIGN: dict[str, set[str]] = {
    "designer": {
        "workflow:create",
        "workflow:read",
        "workflow:update",
        "workflow:delete",
        "workflow:validate",
        "schedule:read",
        "schedule:write",
        "hook:read",
        "hook:write",
        "template:read",
        "template:write",
    },
    "operator": {
        "workflow:read",
        "workflow:execute",
        "run:read",
        "run:cancel",
        "run:approve",  # issue 13
        "run:signal",
        "schedule:read",
        "hook:read",
        "template:read",
        "job:enqueue",
    },
    "admin": {
        "workflow:create",
        "workflow:read",
        "workflow:update",
        "workflow:delete",
        "workflow:validate",
        "workflow:execute",
        "run:read",
        "run:cancel",
        "run:approve",
        "run:signal",
        "schedule:read",
        "schedule:write",
        "hook:read",
        "hook:write",
        "template:read",
        "template:write",
        "job:enqueue",
        "system:configure",
    },
}
FILL = {
    "workflowId": "wf-matrix",
    "runId": "run-matrix",
    "nodeId": "n1",
    "version": "1",
    "scheduleId": "sc-matrix",
    "hookId": "hk-matrix",
    "jobId": "run-matrix",
    "templateId": "tpl-matrix",
    "name": "nobody-matrix",
}


def _url(route: Route) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: FILL[m.group(1)], route.path)


def _expected(route: Route, caller: str) -> str:
    """'ok' (neither 401 nor 403), '401' or '403'."""
    if route.permission == PUBLIC:
        return "ok"
    if caller in ("anonymous", "wrong key", "bad token"):
        return "401"
    if route.permission == AUTHENTICATED:
        return "ok"
    if caller == "no role":
        return "403"
    return "ok" if route.permission in DESIGN[caller] else "403"


async def test_route_role_matrix(api: Api) -> None:
    store = UserStore.in_dir(api.policies)
    _, nobody_key = store.add("nobody", "operator")
    set_user_role(api.policies / "policy.csv", "nobody", None)  # a user the policy gives no role
    # The app's watcher would pick the edit up; reloading now keeps the test deterministic.
    api.app[STATE].authorizer.reload_now()
    callers: dict[str, dict[str, str]] = {
        "designer": api.auth("designer"),
        "operator": api.auth("operator"),
        "admin": api.auth("admin"),
        "anonymous": {},
        "wrong key": {"X-API-Key": "dagq_AAAAAAAA_" + "b" * 43},
        "bad token": {"Authorization": "Bearer not.a.jwt"},
        "no role": {"X-API-Key": nobody_key},
    }
    mismatches: list[str] = []
    for route in ROUTES:
        for caller, headers in callers.items():
            resp = await api.client.request(route.method, _url(route), headers=headers, json={})
            got = str(resp.status) if resp.status in (401, 403) else "ok"
            want = _expected(route, caller)
            if got != want or resp.status >= 500:
                mismatches.append(
                    f"{route.method} {route.path} as {caller}: {resp.status}, want {want}"
                )
            if resp.status in (401, 403):
                body = await resp.json()
                assert set(body) == {"error", "message", "details"}
    assert not mismatches, "\n".join(mismatches)


async def test_every_route_is_in_the_table(api: Api) -> None:
    index = api.app[ROUTE_INDEX]
    registered = [r for r in api.app.router.routes() if r.method != "HEAD"]
    assert len(registered) == len(ROUTES)
    assert all(r in index for r in registered)
    assert len({(r.method, r.path) for r in ROUTES}) == len(ROUTES)
    assert len({r.operation_id for r in ROUTES}) == len(ROUTES)


async def test_bearer_tokens(api: Api, tmp_path: Path) -> None:
    secret = tokens.load_or_create_secret(api.settings.data_dir)
    good = tokens.mint("dee", "workflow_admin", secret=secret)  # the role claim is not trusted
    headers = {"Authorization": f"Bearer {good}"}
    me = await (await api.client.get("/api/v1/whoami", headers=headers)).json()
    assert me["user"] == "dee"
    assert me["role"] == "workflow_designer"
    assert me["auth"] == "token"
    assert "workflow:execute" not in me["permissions"]
    denied = await api.client.get("/api/v1/audit", headers=headers)
    assert denied.status == 403
    expired = tokens.mint("dee", "x", secret=secret, ttl_s=1, now=1_000_000)
    resp = await api.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status == 401
    assert (await resp.json())["message"] == "token expired"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    ghost = tokens.mint("ghost", "workflow_admin", secret=secret)
    resp = await api.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {ghost}"})
    assert resp.status == 401


async def test_whoami_lists_exactly_the_role_permissions(api: Api) -> None:
    for role, perms in DESIGN.items():
        me = await (await api.client.get("/api/v1/whoami", headers=api.auth(role))).json()
        assert set(me["permissions"]) == perms, role
        assert me["role"] == f"workflow_{role}"


async def test_permission_check_answers_from_the_policy(api: Api) -> None:
    for role, perms in DESIGN.items():
        for perm in DESIGN["admin"]:
            resp = await api.client.post(
                "/api/v1/auth/check",
                json={"permission": perm, "action": "matrix"},
                headers=api.auth(role),
            )
            assert resp.status == 200, (role, perm)
            assert (await resp.json())["allowed"] is (perm in perms), (role, perm)
