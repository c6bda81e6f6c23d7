"""Edits that parse but would open everything, or lock everyone out, are refused by name.

Each edit is applied to real files and reloaded as the API's watcher does; the old policy (or
users) must still decide afterwards, and the status must name the invariant.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, Conflict
from orchestrator.security.invariants import INVARIANTS
from orchestrator.security.rbac import Authorizer
from orchestrator.security.users import UserStore

MODEL_EDITS = {
    # The matcher's && became ||: a request matches on the permission alone.
    "or-matcher": (
        "m = g(r.sub, p.sub) && keyMatch(r.perm, p.perm)",
        "m = g(r.sub, p.sub) || keyMatch(r.perm, p.perm)",
        "no-role-no-access",
    ),
    # A deny-override effect with no deny lines: whatever is not denied is allowed.
    "deny-override": (
        "e = some(where (p.eft == allow))",
        "e = !some(where (p.eft == deny))",
        "no-role-no-access",
    ),
}
DESIGNER, OPERATOR = "p, workflow_designer", "p, workflow_operator"
POLICY_EDITS = {
    "designer is admin": ("g, workflow_designer, workflow_admin", "designer-cannot-configure"),
    "designer may run": (f"{DESIGNER}, workflow:execute", "designer-cannot-execute"),
    "designer may cancel": (f"{DESIGNER}, run:*", "designer-cannot-execute"),
    "operator may update": (f"{OPERATOR}, workflow:update", "operator-cannot-change-workflows"),
    "operator gets all": (f"{OPERATOR}, *", "operator-cannot-change-workflows"),
    "operator may configure": (f"{OPERATOR}, system:*", "operator-cannot-configure"),
}


def _old_policy_decides(authz: Authorizer) -> None:
    assert authz.allowed("ada", "system:configure")
    assert authz.allowed("otto", "workflow:execute")
    assert not authz.allowed("dee", "system:configure")
    assert not authz.allowed("otto", "system:configure")
    assert not authz.allowed("otto", "workflow:update")
    assert not authz.allowed("stranger", "workflow:read")


@pytest.mark.parametrize("case", sorted(MODEL_EDITS))
def test_a_model_edit_that_opens_everything_is_refused(
    policies_with_users: Path, case: str
) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    old, new, invariant = MODEL_EDITS[case]
    model = policies_with_users / "model.conf"
    text = model.read_text()
    assert old in text
    model.write_text(text.replace(old, new))
    assert authz.reload_now() is False
    status = authz.status()
    assert status.in_error and f"invariant '{invariant}'" in (status.last_error or "")
    assert "previous policy stays in force" in (status.last_error or "")
    _old_policy_decides(authz)
    [change] = authz.take_changes()
    assert not change.accepted and invariant in (change.error or "")
    with pytest.raises(ConfigError, match=invariant):  # nor can an API start with it
        Authorizer.from_dir(policies_with_users)


@pytest.mark.parametrize("case", sorted(POLICY_EDITS))
def test_a_policy_line_that_breaks_a_role_boundary_is_refused(
    policies_with_users: Path, case: str
) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    line, invariant = POLICY_EDITS[case]
    with (policies_with_users / "policy.csv").open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    assert authz.reload_now() is False
    assert f"invariant '{invariant}'" in (authz.status().last_error or "")
    _old_policy_decides(authz)


def test_admins_keep_system_configure(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    policy = policies_with_users / "policy.csv"
    policy.write_text(policy.read_text().replace("p, workflow_admin, system:configure\n", ""))
    assert authz.reload_now() is False
    assert "invariant 'admin-can-configure'" in (authz.status().last_error or "")
    _old_policy_decides(authz)


def test_taking_the_admin_role_from_the_last_admin_is_refused(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    policy = policies_with_users / "policy.csv"
    good = policy.read_text()
    policy.write_text(good.replace("g, ada, workflow_admin\n", "g, ada, workflow_operator\n"))
    assert authz.reload_now() is False
    assert "invariant 'keeps-an-admin'" in (authz.status().last_error or "")
    _old_policy_decides(authz)
    # With another admin in place, the same edit is fine.
    policy.write_text(good.replace("g, ada, workflow_admin\n", "g, root, workflow_admin\n"))
    assert authz.reload_now() is True
    assert authz.allowed("root", "system:configure") and not authz.allowed("ada", "run:read")


def test_narrowing_a_role_is_accepted(policies_with_users: Path) -> None:
    authz = Authorizer.from_dir(policies_with_users)
    policy = policies_with_users / "policy.csv"
    policy.write_text(policy.read_text().replace("p, workflow_operator, run:cancel\n", ""))
    assert authz.reload_now() is True
    assert not authz.allowed("otto", "run:cancel") and authz.allowed("otto", "run:read")
    [change] = authz.take_changes()
    assert change.accepted and change.digest == authz.in_force().digest


def test_every_invariant_is_named_once() -> None:
    names = [inv.name for inv in INVARIANTS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "text",
    [
        "",  # emptied
        "version: 1\nusers: {}\n",  # no users at all
    ],
)
def test_a_users_file_that_locks_everyone_out_is_refused(policies: Path, text: str) -> None:
    store = UserStore.in_dir(policies)
    _, admin_key = store.add("ada", "admin")
    store.add("dee", "designer")
    store.path.write_text(text)
    assert store.reload_if_changed() is False
    assert "invariant 'keeps-an-admin'" in (store.last_error or "")
    assert "previous users stay in force" in (store.last_error or "")
    user = store.verify_key(admin_key)
    assert user is not None and user.name == "ada"
    [change] = store.take_changes()
    assert not change.accepted


def test_a_users_file_without_an_enabled_admin_is_refused(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    store.add("ada", "admin")
    store.add("dee", "designer")
    other = UserStore.in_dir(policies)
    text = store.path.read_text()
    store.path.write_text(text.replace("disabled: false", "disabled: true", 1))  # ada comes first
    assert other.reload_if_changed() is False
    assert "keeps-an-admin" in (other.last_error or "")
    ada = other.get("ada")
    assert ada is not None and not ada.disabled


def test_dagq_user_refuses_to_remove_the_last_admin(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    store.add("ada", "admin")
    for change in (
        lambda: store.remove("ada"),
        lambda: store.set_role("ada", "operator"),
        lambda: store.set_disabled("ada", True),
    ):
        with pytest.raises(Conflict, match="keeps-an-admin"):
            change()
    assert store.get("ada") is not None
    # A fresh install without any admin is not "locked out": there was nobody to lock.
    empty = UserStore.in_dir(policies.parent / "fresh")
    assert empty.list() == []
