"""``dagq user`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import build_cli
from orchestrator.security.policy_file import default_text
from orchestrator.security.rbac import Authorizer
from orchestrator.security.users import UserStore

PASSWORD = "a long enough password"


@pytest.fixture(autouse=True)
def audit_trail(
    redis_url: str, key_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every change is audited: on the test's Redis, never an embedded server of a real data
    dir."""
    monkeypatch.setenv("DAGQ_REDIS_URL", redis_url)
    monkeypatch.setenv("DAGQ_WORKFLOW__STORAGE__PREFIX", key_prefix)
    monkeypatch.setenv("DAGQ_DATA_DIR", str(tmp_path / "user-cmd-data"))


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_cli(), ["user", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_add_prints_the_key_last_and_it_verifies(tmp_path: Path) -> None:
    policies = tmp_path / "fresh"
    code, out, _ = _run("add", "alice", "--role", "designer", "--policies", str(policies))
    assert code == 0, out
    key = out.rstrip("\n").splitlines()[-1]
    assert key.startswith("dagq_")
    user = UserStore.in_dir(policies).verify_key(key)
    assert user is not None and user.role == "workflow_designer"
    # The missing directory got the shipped defaults, and the role line.
    assert (policies / "model.conf").read_text() == default_text("model.conf")
    assert Authorizer.from_dir(policies).allowed("alice", "workflow:create")
    assert key not in (policies / "users.yaml").read_text()


def test_a_short_prompted_password_is_refused_before_the_confirmation(tmp_path: Path) -> None:
    code, out, err = _run(
        "add", "cy", "-r", "designer", "--password", "--policies", str(tmp_path),
        stdin=f"short\n{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, out + err
    refused = err.index("Error: a password needs 8 to")
    assert err.index("Repeat for confirmation") > refused  # not asked to type "short" twice
    assert err.count("Repeat for confirmation") == 1 and "short" not in err
    assert UserStore.in_dir(tmp_path).verify_password("cy", PASSWORD) is not None


def test_add_with_prompted_and_stdin_password(tmp_path: Path) -> None:
    policies = str(tmp_path)
    code, out, _ = _run(
        "add",
        "ann",
        "-r",
        "admin",
        "--password",
        "--policies",
        policies,
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0, out
    assert out.splitlines()[-1].startswith("dagq_")
    assert PASSWORD not in out
    code, out, _ = _run(
        "add",
        "bo",
        "-r",
        "operator",
        "--password-stdin",
        "--policies",
        policies,
        stdin=f"{PASSWORD}\n",
    )
    assert code == 0, out
    store = UserStore.in_dir(tmp_path)
    assert store.verify_password("ann", PASSWORD) is not None
    assert store.verify_password("bo", PASSWORD) is not None


def test_ls_rotate_passwd_rm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGQ_POLICIES_DIR", str(tmp_path))  # no --policies: the env var
    _, out, _ = _run("add", "alice", "--role", "operator")
    old_key = out.splitlines()[-1]

    code, out, _ = _run("ls")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["NAME", "ROLE", "KEYS", "PASSWORD", "CREATED", "STATUS"]
    assert row.split()[:4] == ["alice", "workflow_operator", "1", "-"]

    code, out, _ = _run("rotate", "alice")
    assert code == 0
    new_key = out.splitlines()[-1]
    store = UserStore.in_dir(tmp_path)
    assert store.verify_key(old_key) is None
    assert store.verify_key(new_key) is not None

    code, out, _ = _run("passwd", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, out
    assert store.verify_password("alice", PASSWORD) is not None

    code, out, _ = _run("ls", "--json")
    (entry,) = json.loads(out)
    assert entry["passwordSet"] is True and entry["policyRoles"] == ["workflow_operator"]

    code, out, _ = _run("rm", "alice")
    assert code == 0
    assert store.verify_key(new_key) is None
    assert not Authorizer.from_dir(tmp_path).allowed("alice", "workflow:execute")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rm", "ghost"], "no user called 'ghost'"),
        (["rotate", "ghost"], "no user called 'ghost'"),
        (["passwd", "ghost", "--password-stdin"], "no user called 'ghost'"),
        (["add", "bad name", "--role", "admin"], "invalid user name"),
        (["add", "x", "--role", "root"], "root"),
    ],
)
def test_errors_are_one_line_not_tracebacks(tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = _run(*args, "--policies", str(tmp_path), stdin="pw\n")
    assert code != 0
    assert message in err
    assert "Traceback" not in out + err


def test_duplicate_add_fails(tmp_path: Path) -> None:
    assert _run("add", "alice", "-r", "designer", "--policies", str(tmp_path))[0] == 0
    code, _, err = _run("add", "alice", "-r", "admin", "--policies", str(tmp_path))
    assert code == 1 and "exists already" in err


def test_without_policies_option_it_follows_the_running_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `dagq up` keeps its users in <data dir>/policies and records that in local.json;
    # `dagq user add` run from a checkout must land there, not in ./policies.
    checkout = tmp_path / "repo"
    (checkout / "policies").mkdir(parents=True)
    (checkout / "policies" / "model.conf").write_text(default_text("model.conf"))
    (checkout / "policies" / "policy.csv").write_text(default_text("policy.csv"))
    stack_policies = tmp_path / "data" / "policies"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "local.json").write_text(
        json.dumps(
            {"api_url": "http://127.0.0.1:1", "api_key": "k", "policies_dir": str(stack_policies)}
        )
    )
    monkeypatch.chdir(checkout)
    monkeypatch.delenv("DAGQ_POLICIES_DIR", raising=False)
    monkeypatch.setenv("DAGQ_DATA_DIR", str(tmp_path / "data"))
    code, out, err = _run("add", "carol", "--role", "operator")
    assert code == 0, out + err
    assert UserStore.in_dir(stack_policies).get("carol") is not None
    assert not (checkout / "policies" / "users.yaml").exists()
    assert "carol" not in (checkout / "policies" / "policy.csv").read_text()
