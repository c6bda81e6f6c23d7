"""The Casbin authorizer: the design's role table, the keyMatch2 trap, hot reload, rejects."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import casbin
import pytest

from orchestrator.errors import ConfigError
from orchestrator.security.policy_file import default_text
from orchestrator.security.rbac import PERMISSIONS, ROLES, Authorizer

REPO = Path(__file__).resolve().parents[2]

# The design's "Access Control Model", written out by hand so the policy cannot drift from it.
DESIGN: dict[str, set[str]] = {
    "workflow_designer": {
        "workflow:create",
        "workflow:read",
        "workflow:update",
        "workflow:delete",
        "workflow:validate",
        # Issue 15: designers write schedules and webhooks, operators read them.
        "schedule:read",
        "schedule:write",
        "hook:read",
        "hook:write",
        # Issue 20: designers write templates, operators read them and enqueue jobs.
        "template:read",
        "template:write",
    },
    "workflow_operator": {
        "workflow:read",
        "workflow:execute",
        "run:read",
        "run:cancel",
        "run:approve",  # issue 13: operators decide approvals and send signals
        "run:signal",
        "schedule:read",
        "hook:read",
        "template:read",
        "job:enqueue",
    },
    "workflow_admin": set(PERMISSIONS),
}
USERS = {"dee": "workflow_designer", "otto": "workflow_operator", "ada": "workflow_admin"}


def _expected(user: str, perm: str) -> bool:
    role = USERS.get(user)
    return role is not None and perm in DESIGN[role]


@pytest.mark.parametrize("user", [*USERS, "stranger", ""])
@pytest.mark.parametrize("perm", PERMISSIONS)
def test_role_permission_matrix(policies_with_users: Path, user: str, perm: str) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    assert authz.allowed(user, perm) is _expected(user, perm)


def test_matrix_highlights(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    assert not authz.allowed("dee", "workflow:execute")
    assert not authz.allowed("otto", "workflow:create")
    assert all(authz.allowed("ada", perm) for perm in PERMISSIONS)
    assert not any(authz.allowed("stranger", perm) for perm in PERMISSIONS)


def test_design_covers_every_role() -> None:
    assert set(DESIGN) == set(ROLES)


def test_role_names_are_not_users(policies: Path) -> None:
    # g(x, x) holds in Casbin, so a subject named like a role would otherwise inherit it.
    authz = Authorizer.from_dir(policies)
    assert not authz.allowed("workflow_admin", "system:configure")
    assert authz.role_of("workflow_admin") is None


def test_role_and_permission_lookup(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    assert authz.role_of("otto") == "workflow_operator"
    assert authz.role_of("nobody") is None
    assert authz.permissions_of("workflow_admin") == [
        "workflow:*",
        "run:*",
        "schedule:*",
        "hook:*",
        "handler:*",
        "template:*",
        "job:*",
        "system:configure",
    ]
    assert authz.permissions_of("nope") == []


def test_keymatch2_trap_is_real_and_avoided(policies_with_users: Path) -> None:
    # The trap: keyMatch2 reads ":create" as a parameter.
    assert casbin.util.key_match2("workflow:execute", "workflow:create")
    assert not casbin.util.key_match("workflow:execute", "workflow:create")
    model = (policies_with_users / "model.conf").read_text()
    assert "keyMatch(r.perm, p.perm)" in model
    # And a model switched to keyMatch2 is refused.
    (policies_with_users / "model.conf").write_text(
        model.replace("keyMatch(r.perm", "keyMatch2(r.perm")
    )
    with pytest.raises(ConfigError, match="keyMatch2"):
        Authorizer.from_dir(policies_with_users)


@pytest.mark.parametrize("name", ["model.conf", "policy.csv"])
def test_repo_policies_equal_packaged_defaults(name: str) -> None:
    assert (REPO / "policies" / name).read_text() == default_text(name)


def _append(policies: Path, text: str) -> None:
    with (policies / "policy.csv").open("a", encoding="utf-8") as handle:
        handle.write(text)


async def _until(predicate: object, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + 5
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_hot_reload_applies_an_edit(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    assert not authz.allowed("dee", "run:read")  # cached now: reload must clear it
    task = asyncio.create_task(authz.watch(interval_s=0.05))
    try:
        _append(policies_with_users, "p, workflow_designer, run:read\n")
        await _until(lambda: authz.allowed("dee", "run:read"), "the edit to apply")
        status = authz.status()
        assert not status.in_error
        assert status.last_reload_at is not None
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_watcher_keeps_old_policy_on_broken_edit(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    task = asyncio.create_task(authz.watch(interval_s=0.05))
    try:
        _append(policies_with_users, "p, workflow_designer, workflow:execute, extra\n")
        await _until(lambda: authz.status().in_error, "the broken edit to be rejected")
        assert not authz.allowed("dee", "workflow:execute")
        assert authz.allowed("dee", "workflow:create")
        assert "needs 2" in (authz.status().last_error or "")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


BROKEN_POLICIES = {
    "wrong field count": "p, workflow_admin, workflow:*, deny\n",
    "too few fields": "g, mallory\n",
    "unknown line type": "P, workflow_designer, workflow:execute\n",
    "empty field": "p, , workflow:execute\n",
}


@pytest.mark.parametrize("case", sorted(BROKEN_POLICIES))
def test_broken_policy_line_is_rejected(policies_with_users: Path, case: str) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    before = authz.status().policy_lines
    _append(policies_with_users, BROKEN_POLICIES[case])
    assert authz.reload_now() is False
    status = authz.status()
    assert status.in_error and status.last_error and status.last_error_at
    assert "policy.csv line" in status.last_error
    assert status.policy_lines == before
    assert authz.allowed("ada", "system:configure")
    assert not authz.allowed("dee", "workflow:execute")


def test_garbage_model_is_rejected(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    (policies_with_users / "model.conf").write_text("this is ] not a [ model\n= = =\n")
    assert authz.reload_now() is False
    assert "model.conf" in (authz.status().last_error or "")
    assert authz.allowed("otto", "workflow:execute")


def test_model_missing_matcher_is_rejected(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    model = (policies_with_users / "model.conf").read_text()
    (policies_with_users / "model.conf").write_text(model.split("[matchers]")[0])
    assert authz.reload_now() is False
    assert authz.allowed("otto", "workflow:execute")


@pytest.mark.parametrize("text", ["", "# only comments\n\n", "g, dee, workflow_designer\n"])
def test_policy_without_p_lines_is_rejected(policies_with_users: Path, text: str) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    (policies_with_users / "policy.csv").write_text(text)
    assert authz.reload_now() is False
    assert "no 'p' lines" in (authz.status().last_error or "")
    assert authz.allowed("dee", "workflow:create")


def test_missing_file_is_rejected_then_recovered(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    good = (policies_with_users / "policy.csv").read_text()
    (policies_with_users / "policy.csv").unlink()
    assert authz.reload_now() is False
    assert authz.allowed("ada", "run:cancel")
    (policies_with_users / "policy.csv").write_text(good + "p, workflow_operator, run:*\n")
    assert authz.reload_now() is True
    status = authz.status()
    assert not status.in_error
    assert status.last_error is not None  # the history stays visible
    assert authz.allowed("otto", "run:anything")


def test_first_load_never_fails_open(policies: Path) -> None:
    (policies / "policy.csv").write_text("p, workflow_admin\n")
    with pytest.raises(ConfigError, match="line 1"):
        Authorizer.from_dir(policies)
    with pytest.raises(ConfigError, match="missing"):
        Authorizer.from_dir(policies / "nowhere")


def test_poll_waits_for_the_file_to_settle(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    assert authz.poll() is False
    _append(policies_with_users, "p, workflow_operator, workflow:validate\n")
    assert authz.poll() is False  # first sight of the change: wait a tick
    assert authz.poll() is True
    assert authz.allowed("otto", "workflow:validate")
    assert authz.poll() is False


def test_status_to_dict(policies_with_users: Path) -> None:
    data = Authorizer.from_dir(policies_with_users).status().to_dict()
    assert data["roles"] == sorted(ROLES)
    assert data["policyLines"] == 34
    assert data["inError"] is False
    assert str(data["loadedAt"]).endswith("Z")
