"""An existing ``policy.csv`` from before schedules and webhooks gains their permissions
once, keeping everything its admin wrote; the shipped default is always current."""

from __future__ import annotations

from pathlib import Path

from orchestrator.security.policy_file import (
    CURRENT_VERSION,
    POLICY_FILE,
    UPGRADES,
    default_text,
    ensure_policies_dir,
    parse_policy,
    policy_version,
)
from orchestrator.security.rbac import Authorizer
from orchestrator.security.users import UserStore

UPGRADED = {line for upgrade in UPGRADES for line in upgrade.lines}


def _version_1() -> str:
    """The shipped policy as releases before version 2 wrote it, plus an admin's own edits."""
    lines = [
        line
        for line in default_text(POLICY_FILE).splitlines()
        if line.strip() not in UPGRADED and "dagq-policy-version" not in line
    ]
    return "\n".join([*lines, "# ada runs everything here", "g, ada, workflow_admin", ""])


def test_the_shipped_policy_is_current() -> None:
    default = default_text(POLICY_FILE)
    assert policy_version(default) == CURRENT_VERSION
    rules = {(p.ptype, p.fields) for p in parse_policy(default)}
    assert {(p.ptype, p.fields) for line in UPGRADED for p in parse_policy(line)} <= rules


def test_an_old_policy_gains_the_new_permissions_once(tmp_path: Path) -> None:
    path = tmp_path / POLICY_FILE
    old = _version_1()
    path.write_text(old)
    (tmp_path / "model.conf").write_text(default_text("model.conf"))
    store = UserStore.in_dir(tmp_path)
    store.add("ada", "workflow_admin")
    assert not Authorizer.from_dir(tmp_path).allowed("ada", "schedule:write")

    ensure_policies_dir(tmp_path)
    text = path.read_text()
    assert text.startswith(old.rstrip("\n"))  # the admin's lines and comments stay as written
    assert policy_version(text) == CURRENT_VERSION
    assert "# Added by dagq (policy version 2): schedules and webhooks." in text
    assert "# Added by dagq (policy version 4): templates and plain jobs." in text
    authorizer = Authorizer.from_dir(tmp_path)
    assert authorizer.allowed("ada", "schedule:write") and authorizer.allowed("ada", "hook:write")
    assert authorizer.allowed("ada", "template:write") and authorizer.allowed("ada", "job:enqueue")

    ensure_policies_dir(tmp_path)  # nothing twice
    assert path.read_text() == text


def test_a_permission_removed_after_the_upgrade_stays_removed(tmp_path: Path) -> None:
    path = tmp_path / POLICY_FILE
    path.write_text(_version_1())
    ensure_policies_dir(tmp_path)
    narrowed = path.read_text().replace("p, workflow_operator, hook:read\n", "")
    path.write_text(narrowed)
    ensure_policies_dir(tmp_path)
    assert path.read_text() == narrowed


def test_a_current_policy_is_left_alone(tmp_path: Path) -> None:
    ensure_policies_dir(tmp_path)
    assert (tmp_path / POLICY_FILE).read_text() == default_text(POLICY_FILE)
