"""The audit trail without holes: before-the-change entries, kill -9, strangers kept apart,
policies-file edits recorded once by N replicas, edits made while no API ran."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.security.audit import AuditLog
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.settings import Settings
from tests.api.conftest import Api, AppFactory, pipeline_spec
from tests.conftest import until


async def _entries(api: Api, **query: str) -> list[dict[str, Any]]:
    resp = await api.client.get("/api/v1/audit", params=query, headers=api.auth("admin"))
    assert resp.status == 200
    entries: list[dict[str, Any]] = (await resp.json())["entries"]
    return entries


@pytest.mark.single_redis(
    "MONITOR shows one server's commands; on a cluster the audit log and the workflow "
    "live on different nodes, so the order of the two writes cannot be observed there"
)
async def test_the_entry_reaches_redis_before_the_change(
    make_api: AppFactory, settings: Settings, redis_url: str
) -> None:
    api = await make_api(settings, orchestrator=False)
    keys = api.conn.keys
    workflow_key = keys.workflow("pipeline")
    watcher = aioredis.Redis.from_url(redis_url)
    seen: list[str] = []
    async with watcher.monitor() as monitor:
        await api.conn.redis.ping()  # MONITOR is on once the server echoes a command back
        while "PING" not in (await monitor.next_command())["command"]:
            pass
        created = asyncio.create_task(
            api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
        )
        while not (seen and keys.audit_log() in seen[-1] and any(workflow_key in c for c in seen)):
            command = (await monitor.next_command())["command"]
            if keys.prefix in command:
                seen.append(command)
        assert (await created).status == 201
    await watcher.aclose()
    begun = next(i for i, c in enumerate(seen) if keys.audit_inflight() in c)
    changed = next(
        i for i, c in enumerate(seen) if workflow_key in c and not c.startswith(("EXISTS", "HGET"))
    )
    assert begun < changed, seen


async def test_refused_strangers_are_counted_not_audited(api: Api, redis_client: Any) -> None:
    resp = await api.client.post(
        "/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin")
    )
    assert resp.status == 201
    stream = api.conn.keys.audit_log()
    length = await redis_client.xlen(stream)
    audit_file = api.settings.data_dir / "audit.jsonl"
    size = audit_file.stat().st_size
    junk = [{}, {"X-API-Key": "dagq_AAAAAAAA_" + "b" * 43}, {"Authorization": "Bearer x.y.z"}]

    async def stranger(n: int) -> int:
        resp = await api.client.delete("/api/v1/workflows/pipeline", headers=junk[n % 3])
        return resp.status

    for start in range(0, 1500, 100):
        statuses = await asyncio.gather(*(stranger(n) for n in range(start, start + 100)))
        assert set(statuses) == {401}
    assert await redis_client.xlen(stream) == length  # not one entry more
    assert audit_file.stat().st_size == size
    [admin_entry] = [e for e in await _entries(api) if e["action"] == "createWorkflow"]
    assert admin_entry["user"] == "ada" and admin_entry["outcome"] == "allowed"
    counted = await api.client.get("/api/v1/audit/strangers", headers=api.auth("admin"))
    minutes = (await counted.json())["minutes"]
    assert sum(m["total"] for m in minutes) == 1500
    assert {a["address"] for m in minutes for a in m["addresses"]} == {"127.0.0.1"}
    designer = await api.client.get("/api/v1/audit/strangers", headers=api.auth("designer"))
    assert designer.status == 403


def _start_api(
    env: dict[str, str], policies: Path, cwd: Path
) -> tuple[subprocess.Popen[bytes], str]:
    dagq = [sys.executable, "-c", "from serve.cli import main; main()"]
    proc = subprocess.Popen(
        [*dagq, "api", "--host", "127.0.0.1", "--port", "0", "--policies", str(policies)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    assert line.startswith("dagq api listening on "), line
    return proc, line.rsplit(" ", 1)[1]


def _kill_9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


async def test_kill_9_mid_burst_leaves_no_change_without_an_entry(
    make_api: AppFactory,
    settings: Settings,
    redis_url: str,
    key_prefix: str,
    redis_client: aioredis.Redis,
    tmp_path: Path,
) -> None:
    policies = ensure_policies_dir(tmp_path / "killed-policies")
    _, key = UserStore.in_dir(policies).add("ada", "admin")
    env = {
        **os.environ,
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_DATA_DIR": str(tmp_path / "killed-data"),
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
        "DAGQ_WORKFLOW__SECURITY__RATE_LIMITING__CREATE_WORKFLOW": "100000/min",
    }
    env.pop("DAGQ_CONFIG", None)
    proc, url = await asyncio.to_thread(_start_api, env, policies, tmp_path)
    keys = Keys(prefix=key_prefix)
    total = 400
    try:
        async with aiohttp.ClientSession() as http:

            async def create(n: int) -> None:
                headers = {"X-API-Key": key, "X-Request-Id": f"req-{n}"}
                try:
                    async with http.post(
                        f"{url}/api/v1/workflows", json=pipeline_spec(f"wf-{n}"), headers=headers
                    ):
                        pass
                except aiohttp.ClientError:
                    pass  # the server died under this request

            burst = [asyncio.create_task(create(n)) for n in range(total)]

            async def some_landed() -> bool:
                return await redis_client.zcard(keys.workflow_index()) >= 50

            await until(some_landed, "the first creates to land")
            await asyncio.to_thread(_kill_9, proc)
            await asyncio.gather(*burst)
    finally:
        if proc.poll() is None:
            await asyncio.to_thread(_kill_9, proc)
    index = await redis_client.zrange(keys.workflow_index(), 0, -1)
    stored = [w.decode() if isinstance(w, bytes) else str(w) for w in index]
    assert 50 <= len(stored) < total  # killed mid-burst
    trail = await AuditLog(redis_client, keys, path=None).read(limit=1000)
    recorded = {e["requestId"] for e in trail if e["action"] == "createWorkflow"}
    in_flight = {
        orjson.loads(value)["requestId"]
        for value in (await redis_client.hgetall(keys.audit_inflight())).values()
    }
    for workflow_id in stored:
        assert f"req-{workflow_id[3:]}" in recorded | in_flight, workflow_id

    # The dead process's liveness key is what Redis expires ~30 s after the kill; gone, the
    # next API's sweep records every in-flight entry as interrupted.
    async for owner in redis_client.scan_iter(keys.audit_owner("*")):
        await redis_client.delete(owner)
    api = await make_api(settings, orchestrator=False)

    async def swept() -> bool:
        return await redis_client.hlen(keys.audit_inflight()) == 0

    await until(swept, "the in-flight entries to be swept")
    entries = await _entries(api, limit="1000")
    finished = {e["requestId"]: e["outcome"] for e in entries if e["action"] == "createWorkflow"}
    for workflow_id in stored:
        assert finished[f"req-{workflow_id[3:]}"] in {"allowed", "interrupted"}
    interrupted = [e for e in entries if e["outcome"] == "interrupted"]
    assert all("may or may not have been applied" in e["detail"] for e in interrupted)


async def test_policy_edits_are_audited_once_by_two_replicas(
    make_api: AppFactory, settings: Settings
) -> None:
    one = await make_api(settings, orchestrator=False)
    two = await make_api(settings, orchestrator=False)
    replicas = (one, two)
    policy, model, users = (one.policies / n for n in ("policy.csv", "model.conf", "users.yaml"))

    def reloads(entries: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
        return [e for e in entries if e["action"] == action and e["source"] == "file"]

    async def both(check: Callable[[Api], Awaitable[bool]]) -> bool:
        return all([await check(api) for api in replicas])

    # Start-up: the files as found are recorded once, by whichever replica came first.
    first = reloads(await _entries(one), "reloadPolicy")
    assert len(first) == 1 and "first recorded" in first[0]["detail"]

    # An accepted edit.
    policy.write_text(policy.read_text() + "p, workflow_operator, workflow:validate\n")

    async def validates(api: Api) -> bool:
        resp = await api.client.post("/api/v1/validate", json={}, headers=api.auth("operator"))
        return resp.status == 200

    await until(lambda: both(validates), "both replicas to apply the edit")
    [accepted] = reloads(await _entries(one, outcome="allowed"), "reloadPolicy")[:1]
    assert accepted["resource"] == "file model.conf, policy.csv" and accepted["user"] is None
    assert "+ p, workflow_operator, workflow:validate" in accepted["detail"]
    assert len(reloads(await _entries(two), "reloadPolicy")) == 2  # start-up + this edit

    # Refused edits: the matcher's && made ||, then a deny-override effect.
    good_model = model.read_text()
    for old, new in (
        ("&& keyMatch", "|| keyMatch"),
        ("e = some(where (p.eft == allow))", "e = !some(where (p.eft == deny))"),
    ):
        model.write_text(good_model.replace(old, new))

        async def refused(api: Api, new: str = new) -> bool:
            resp = await api.client.get("/api/v1/system/policy", headers=api.auth("admin"))
            status = await resp.json()
            return bool(status["inError"]) and "no-role-no-access" in (status["lastError"] or "")

        await until(lambda: both(refused), f"both replicas to refuse {new!r}")
        for api in replicas:  # the old policy decides
            audit = await api.client.get("/api/v1/audit", headers=api.auth("designer"))
            assert audit.status == 403
            assert (await validates(api)) is True
        model.write_text(good_model)

        async def recovered(api: Api) -> bool:
            resp = await api.client.get("/api/v1/system/policy", headers=api.auth("admin"))
            return not (await resp.json())["inError"]

        await until(lambda: both(recovered), "both replicas to take the good model back")

    async def recorded(action: str, count: int) -> bool:
        return len(reloads(await _entries(one, outcome="denied"), action)) >= count

    await until(lambda: recorded("reloadPolicy", 2), "the refusals to be recorded")
    denied = reloads(await _entries(one, outcome="denied"), "reloadPolicy")
    assert len(denied) == 2
    assert all("invariant 'no-role-no-access'" in e["detail"] for e in denied)
    assert all(e["detail"].startswith("refused, the previous version stays") for e in denied)

    # An emptied users.yaml would lock everyone out: refused, the users stay.
    users.write_text("")

    async def users_refused(api: Api) -> bool:
        resp = await api.client.get("/api/v1/system/policy", headers=api.auth("admin"))
        return "keeps-an-admin" in ((await resp.json())["usersFileError"] or "")

    await until(lambda: both(users_refused), "both replicas to refuse the empty users file")
    await until(lambda: recorded("reloadUsers", 1), "the refusal to be recorded")
    [locked] = reloads(await _entries(one, outcome="denied"), "reloadUsers")
    assert "keeps-an-admin" in locked["detail"] and locked["resource"] == "file users.yaml"


async def test_an_edit_made_while_no_api_ran_is_recorded_at_start(
    make_api: AppFactory, settings: Settings
) -> None:
    first = await make_api(settings, orchestrator=False)
    await first.client.close()  # no API runs now
    policy = first.policies / "policy.csv"
    policy.write_text(policy.read_text().replace("p, workflow_operator, run:cancel\n", ""))
    UserStore.in_dir(first.policies).set_role("otto", "designer")
    second = await make_api(settings, orchestrator=False)

    async def file_entries() -> list[dict[str, Any]]:
        return [e for e in await _entries(second) if e["source"] == "file"]  # newest first

    async def recorded_at_start() -> bool:  # by the upkeep task, which runs beside the app
        return sum("found at start-up" in e["detail"] for e in await file_entries()) >= 2

    await until(recorded_at_start, "the second API to record the files it found")
    entries = await file_entries()
    by_action: dict[str, dict[str, Any]] = {}
    for entry in entries:
        by_action.setdefault(entry["action"], entry)
    assert all(e["detail"].startswith("found at start-up") for e in by_action.values())
    assert "- p, workflow_operator, run:cancel" in by_action["reloadPolicy"]["detail"]
    assert "otto: role workflow_operator -> workflow_designer" in by_action["reloadUsers"]["detail"]
