"""The users file: hashed keys and passwords, atomic private writes, policy g lines."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from orchestrator.errors import BadRequest, ConfigError, Conflict, NotFound
from orchestrator.security.policy_file import user_roles, with_user_role
from orchestrator.security.rbac import Authorizer
from orchestrator.security.users import UserStore, normalize_role, parse_key

PASSWORD = "correct horse battery"


def test_missing_file_is_created_private(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    assert store.path.exists()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.list() == []


def test_add_returns_a_working_key_and_stores_no_secret(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    user, key = store.add("alice", "designer", password=PASSWORD)
    assert user.role == "workflow_designer" and user.has_password
    assert parse_key(key) is not None
    verified = store.verify_key(key)
    assert verified is not None and verified.name == "alice"
    text = store.path.read_text()
    _, secret = parse_key(key) or ("", "")
    assert key not in text and secret not in text and PASSWORD not in text
    assert "$argon2id$" in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    policy = (policies / "policy.csv").read_text()
    assert key not in policy and PASSWORD not in policy


def test_add_writes_the_role_line_and_keeps_comments(policies: Path) -> None:
    before = (policies / "policy.csv").read_text()
    store = UserStore.in_dir(policies)
    store.add("alice", "designer")
    store.add("bob", "workflow_operator")
    text = (policies / "policy.csv").read_text()
    comments = [line for line in before.splitlines() if line.startswith("#")]
    assert all(c in text.splitlines() for c in comments)
    assert user_roles(text) == {"alice": ["workflow_designer"], "bob": ["workflow_operator"]}
    authz = Authorizer.from_dir(policies)
    assert authz.allowed("alice", "workflow:create")
    assert authz.allowed("bob", "workflow:execute")


def test_set_role_and_remove_update_the_policy(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    store.add("alice", "designer")
    assert store.set_role("alice", "admin").role == "workflow_admin"
    assert user_roles((policies / "policy.csv").read_text()) == {"alice": ["workflow_admin"]}
    store.add("root", "admin")  # alice is not the last admin, so she may go
    store.remove("alice")
    assert user_roles((policies / "policy.csv").read_text()) == {"root": ["workflow_admin"]}
    assert store.get("alice") is None
    with pytest.raises(NotFound):
        store.remove("alice")


def test_wrong_and_malformed_keys_are_refused(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    _, key = store.add("alice", "operator")
    key_id, secret = parse_key(key) or ("", "")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in [
        f"dagq_{key_id}_{flipped}",
        f"dagq_XXXXXXXX_{secret}",
        key[:-1],
        "",
        "dagq_",
        "Bearer " + key,
        key + "\n",
        " " + key,
        key + "\t",
        "\u00a0" + key,
        key + "\u3000",
        "x" * 10_000,
    ]:
        assert store.verify_key(bad) is None, bad


def test_rotate_revokes_old_keys(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    _, old = store.add("alice", "operator")
    new = store.rotate("alice")
    assert new != old
    assert store.verify_key(old) is None
    assert store.verify_key(new) is not None
    assert len(store.get("alice").api_keys) == 1  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        store.rotate("nobody")


def test_remove_revokes_keys(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    _, key = store.add("alice", "operator")
    store.remove("alice")
    assert store.verify_key(key) is None


def test_passwords(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    store.add("alice", "designer")
    assert store.verify_password("alice", PASSWORD) is None  # no password yet
    store.set_password("alice", PASSWORD)
    assert store.verify_password("alice", PASSWORD) is not None
    assert store.verify_password("alice", PASSWORD + "!") is None
    assert store.verify_password("nobody", PASSWORD) is None
    assert PASSWORD not in store.path.read_text()
    store.set_password("alice", None)
    assert store.verify_password("alice", PASSWORD) is None
    with pytest.raises(BadRequest, match="characters"):
        store.set_password("alice", "short")


def test_disabled_users_cannot_authenticate(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    _, key = store.add("alice", "designer", password=PASSWORD)
    store.set_disabled("alice", True)
    assert store.verify_key(key) is None
    assert store.verify_password("alice", PASSWORD) is None
    store.set_disabled("alice", False)
    assert store.verify_key(key) is not None


def test_another_process_changes_are_picked_up(policies: Path) -> None:
    api_side = UserStore.in_dir(policies)
    cli_side = UserStore.in_dir(policies)
    _, key = cli_side.add("alice", "designer")
    assert api_side.verify_key(key) is not None  # verify reloads a changed file
    cli_side.rotate("alice")
    assert api_side.verify_key(key) is None
    assert api_side.reload_if_changed() is False


def test_concurrent_stores_do_not_lose_users(policies: Path) -> None:
    first, second = UserStore.in_dir(policies), UserStore.in_dir(policies)
    first.add("alice", "designer")
    second.add("bob", "operator")  # second's memory is stale: it must re-read under the lock
    assert [u.name for u in UserStore.in_dir(policies).list()] == ["alice", "bob"]


@pytest.mark.parametrize(
    "name",
    ["", "a b", "a,b", "-x", "x" * 65, "workflow_admin", "admin", "ü", "a/b", "a\nb", "alice\n"],
)
def test_bad_names_are_refused(policies: Path, name: str) -> None:
    with pytest.raises(BadRequest):
        UserStore.in_dir(policies).add(name, "designer")


def test_duplicate_and_unknown_role(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    store.add("alice", "designer")
    with pytest.raises(Conflict):
        store.add("alice", "operator")
    with pytest.raises(BadRequest, match="unknown role"):
        store.add("bob", "superuser")


def test_role_aliases() -> None:
    assert normalize_role("Designer") == "workflow_designer"
    assert normalize_role("operator") == "workflow_operator"
    assert normalize_role("workflow_admin") == "workflow_admin"


def test_broken_users_file(policies: Path) -> None:
    store = UserStore.in_dir(policies)
    _, key = store.add("alice", "designer")
    store.path.write_text("users: [not, a, mapping\n")
    assert store.reload_if_changed() is False
    assert store.last_error is not None
    assert store.verify_key(key) is not None  # last good users stay
    with pytest.raises(ConfigError, match="users file"):
        UserStore.in_dir(policies)


def test_with_user_role_text_edits() -> None:
    text = "# head\np, r, x:y\ng, alice, a\n# keep\ng, alice, b\ng, alicex, a\n"
    assert with_user_role(text, "alice", "c") == "# head\np, r, x:y\ng, alice, c\n# keep\n" + (
        "g, alicex, a\n"
    )
    assert with_user_role(text, "alice", None) == "# head\np, r, x:y\n# keep\ng, alicex, a\n"
    assert with_user_role("p, r, x:y\n\n", "bob", "a") == "p, r, x:y\ng, bob, a\n"
