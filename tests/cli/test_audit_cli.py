"""Changes made from the command line are in the same audit trail as the API's.

``dagq user ...`` and ``dagq run`` run for real (CliRunner, in a thread) against the test
API's Redis and policies directory, while the API's watcher reloads the files they write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli.audited import actor
from orchestrator.logs import stop_logging
from orchestrator.security.users import UserStore
from tests.api.conftest import Api
from tests.cli.conftest import invoke
from tests.conftest import until

PASSWORD = "a long enough password"
SPEC = """\
id: audited-run
name: Audited run
nodes:
  - {id: a, type: task, handler: noop}
"""


def _env(api: Api, tmp_path: Path) -> dict[str, str | None]:
    return {
        "DAGQ_REDIS_URL": api.settings.redis_url,
        "DAGQ_WORKFLOW__STORAGE__PREFIX": api.conn.keys.prefix,
        "DAGQ_DATA_DIR": str(tmp_path / "cli-data"),
        "DAGQ_POLICIES_DIR": str(api.policies),
    }


async def _audit(api: Api, **query: str) -> list[dict[str, Any]]:
    resp = await api.client.get(
        "/api/v1/audit", params={"limit": "1000", **query}, headers=api.auth("admin")
    )
    entries: list[dict[str, Any]] = (await resp.json())["entries"]
    return entries


async def _started(api: Api) -> None:
    """Wait until the API has recorded the files as it found them at start."""

    async def baseline() -> bool:
        return len([e for e in await _audit(api) if e["source"] == "file"]) == 2

    await until(baseline, "the API's start-up record of the files")


async def test_every_user_change_is_audited_once(api: Api, tmp_path: Path) -> None:
    await _started(api)
    env = _env(api, tmp_path)
    steps = [
        (["user", "add", "eve", "--role", "admin"], "addUser", "role workflow_admin"),
        (["user", "role", "eve", "operator"], "setUserRole", "role -> workflow_operator"),
        (["user", "rotate", "eve"], "rotateUserKey", "older keys revoked"),
        (["user", "passwd", "eve", "--password-stdin"], "setUserPassword", None),
        (["user", "disable", "eve"], "disableUser", None),
        (["user", "enable", "eve"], "enableUser", None),
        (["user", "rm", "eve"], "removeUser", None),
    ]
    for argv, _, _ in steps:
        result = await invoke(argv, input=f"{PASSWORD}\n", env=env)
        assert result.exit_code == 0, result.output
    entries = [e for e in await _audit(api) if e["source"] == "cli"]
    assert [e["action"] for e in reversed(entries)] == [action for _, action, _ in steps]
    for entry, (_, _, detail) in zip(reversed(entries), steps, strict=True):
        assert entry["user"] == actor() and entry["role"] is None
        assert entry["resource"] == "user eve" and entry["outcome"] == "allowed"
        assert detail is None or detail in entry["detail"]
    assert PASSWORD not in str(entries)
    # The API reloads the files these commands wrote, but records nothing twice.
    store = UserStore.in_dir(api.policies)
    _, key = await asyncio.to_thread(store.add, "probe", "designer")

    async def api_sees_probe() -> bool:
        resp = await api.client.get("/api/v1/whoami", headers={"X-API-Key": key})
        return resp.status == 200

    await until(api_sees_probe, "the API to reload the users file")

    async def users_reload_recorded() -> bool:
        return any("added probe" in (e["detail"] or "") for e in await _audit(api))

    await until(users_reload_recorded, "the API to record the hand-made change")
    file_entries = [e for e in await _audit(api) if e["source"] == "file"]
    details = [e["detail"] for e in file_entries]
    assert not any("eve" in d for d in details), details


async def test_a_refused_user_change_is_audited_as_an_error(api: Api, tmp_path: Path) -> None:
    await _started(api)
    env = _env(api, tmp_path)
    result = await invoke(["user", "rm", "ada"], env=env)  # the only admin
    assert result.exit_code == 1 and "keeps-an-admin" in result.output
    [entry] = [e for e in await _audit(api) if e["source"] == "cli"]
    assert (entry["action"], entry["outcome"]) == ("removeUser", "error")
    assert "keeps-an-admin" in entry["detail"]
    assert UserStore.in_dir(api.policies).get("ada") is not None


async def test_without_the_audit_trail_nothing_is_changed(api: Api, tmp_path: Path) -> None:
    env = {**_env(api, tmp_path), "DAGQ_REDIS_URL": "redis://127.0.0.1:9/0"}
    before = (api.policies / "users.yaml").read_text()
    result = await invoke(["user", "add", "mallory", "--role", "admin"], env=env)
    assert result.exit_code == 2  # Redis unreachable: it could not be done, as for every command
    assert "nothing was changed" in result.output and "cannot reach Redis" in result.output
    assert "Traceback" not in result.output
    assert (api.policies / "users.yaml").read_text() == before


@pytest.fixture
def own_logging() -> Iterator[None]:
    """``dagq run`` sets up the process's logging; this test process gets its own back."""
    level = logging.getLogger().level
    yield
    stop_logging()
    logging.getLogger().setLevel(level)


@pytest.mark.usefixtures("own_logging")
async def test_dagq_run_audits_storing_the_workflow_and_starting_the_run(
    api: Api, tmp_path: Path
) -> None:
    spec = tmp_path / "audited.yaml"
    spec.write_text(SPEC)
    result = await invoke(["run", str(spec), "--json"], env=_env(api, tmp_path))
    assert result.exit_code == 0, result.output
    run_id = result.output.split('"runId": "')[1].split('"')[0]
    stored, started = [e for e in await _audit(api) if e["source"] == "cli"][::-1]
    assert (stored["action"], stored["resource"]) == ("storeWorkflow", "workflow audited-run")
    assert stored["detail"] == "version 1" and stored["outcome"] == "allowed"
    assert (started["action"], started["detail"]) == ("startWorkflowRun", f"run {run_id}")
    assert started["user"] == actor()
