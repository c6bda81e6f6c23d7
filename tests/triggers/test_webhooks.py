"""Webhooks on a real ``dagq api`` process, signed with openssl and posted with curl."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestrator.client import DagqClient
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore

REPORT = {
    "id": "repo-report",
    "name": "Repository report",
    "nodes": [{"id": "report", "type": "task", "handler": "report"}],
    "parameters": {"owner": {"type": "string", "required": True}},
}


class ApiProcess:
    """``dagq api`` on a free port with one admin and one operator."""

    def __init__(self, url: str, admin: str, operator: str) -> None:
        self.url, self.admin, self.operator = url, admin, operator


@pytest.fixture
def api_process(redis_url: str, key_prefix: str, tmp_path: Path) -> Iterator[ApiProcess]:
    policies = ensure_policies_dir(tmp_path / "policies")
    users = UserStore.in_dir(policies)
    admin, operator = users.add("ada", "admin")[1], users.add("otto", "operator")[1]
    env = {
        **os.environ,
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_DATA_DIR": str(tmp_path / "data"),
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
        "DAGQ_TRIGGERS__HOOK_RATE_LIMIT": "5/minute",
    }
    env.pop("DAGQ_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from serve.cli import main; main()", "api", "--host",
         "127.0.0.1", "--port", "0", "--policies", str(policies)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        assert line.startswith("dagq api listening on "), line
        yield ApiProcess(line.rsplit(" ", 1)[1], admin, operator)
    finally:
        proc.terminate()
        proc.wait(30)


def curl_post(url: str, body: bytes, secret: str | None, *, timestamp: int | None = None,
              signature: str | None = None) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """POST as the README shows: openssl computes the signature, curl sends it."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers: list[str] = ["-H", "Content-Type: application/json"]
    if secret is not None:
        if signature is None:
            digest = subprocess.run(
                ["openssl", "dgst", "-sha256", "-hmac", secret, "-r"],
                input=ts.encode() + b"." + body, capture_output=True, check=True,
            ).stdout.split()[0].decode()  # fmt: skip
            signature = f"sha256={digest}"
        headers += ["-H", f"X-Dagq-Timestamp: {ts}", "-H", f"X-Dagq-Signature: {signature}"]
    out = subprocess.run(
        ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", *headers,
         "--data-binary", "@-", url],
        input=body, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    text, _, code = out.rpartition("\n")
    return int(code), orjson.loads(text) if text else {}


async def test_good_bad_missing_replayed_and_limited(api_process: ApiProcess) -> None:
    async with DagqClient(api_process.url, api_key=api_process.admin) as admin:
        await admin.create_workflow(REPORT)
        hook = await admin.create_hook("repo-report", {"owner": "output.repository.owner"})
        url, secret = hook.url, hook.secret
        assert url == f"{api_process.url}/hooks/{hook.id}"
        body = orjson.dumps({"repository": {"owner": "octo", "name": "dagq"}})

        status, accepted = await asyncio.to_thread(curl_post, url, body, secret)
        assert status == 202, accepted
        run = await admin.get_run(accepted["runId"])
        assert run.parameters == {"owner": "octo"}
        assert (run.metadata or {})["hookId"] == hook.id

        async def runs() -> int:
            return (await admin.list_runs("repo-report")).total

        assert await runs() == 1
        # The same delivery again (same timestamp and signature): refused, nothing started.
        other = orjson.dumps({"repository": {"owner": "octo", "name": "web"}})
        ts = int(time.time())
        first = await asyncio.to_thread(curl_post, url, other, secret, timestamp=ts)
        again = await asyncio.to_thread(curl_post, url, other, secret, timestamp=ts)
        assert first[0] == 202 and again[0] == 409 and again[1]["error"] == "REPLAYED"
        # Wrong secret, a forged signature, no signature, an old timestamp: 401.
        refused: list[dict[str, Any]] = [
            {"secret": "whsec_wrong"},
            {"secret": secret, "signature": "sha256=" + "0" * 64},
            {"secret": None},
            {"secret": secret, "timestamp": int(time.time()) - 600},
        ]
        for kwargs in refused:
            status, err = await asyncio.to_thread(curl_post, url, body, **kwargs)
            assert (status, err["error"]) == (401, "BAD_SIGNATURE"), (kwargs, err)
        assert await runs() == 2
        # A body the parameters refuse: 422 with the reason.
        status, err = await asyncio.to_thread(curl_post, url, b'{"other": 1}', secret)
        assert status == 422 and "owner" in err["message"], err
        # Authentic deliveries (a replay too) count against the hook's 5/minute; forged ones do not.
        fourth = orjson.dumps({"repository": {"owner": "octo", "name": "four"}})
        status, _ = await asyncio.to_thread(curl_post, url, fourth, secret)
        assert status == 202
        fifth = orjson.dumps({"repository": {"owner": "octo", "name": "five"}})
        status, err = await asyncio.to_thread(curl_post, url, fifth, secret)
        assert status == 429 and err["error"] == "RATE_LIMITED", err
        assert await runs() == 3

        # Operators may list hooks but not create them; a rotated secret replaces the old one.
        async with DagqClient(api_process.url, api_key=api_process.operator) as operator:
            assert [h.id for h in await operator.list_hooks()] == [hook.id]
            assert "secret" not in (await operator.list_hooks())[0].as_json()
        rotated = await admin.rotate_hook(hook.id)
        status, _ = await asyncio.to_thread(curl_post, url, body, secret)
        assert status == 401
        assert rotated.secret != secret
        await admin.delete_hook(hook.id)
        status, err = await asyncio.to_thread(curl_post, url, body, rotated.secret)
        assert status == 404
