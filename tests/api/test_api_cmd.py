"""``dagq api`` as a user runs it: prints its URL, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import orjson

from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore


def test_dagq_api_serves_and_stops_on_sigterm(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    policies = ensure_policies_dir(tmp_path / "policies")
    _, key = UserStore.in_dir(policies).add("ada", "admin")
    env = {
        **os.environ,
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_DATA_DIR": str(tmp_path / "data"),
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
    }
    env.pop("DAGQ_CONFIG", None)
    dagq = [sys.executable, "-c", "from serve.cli import main; main()"]
    proc = subprocess.Popen(
        [*dagq, "api", "--host", "127.0.0.1", "--port", "0", "--policies", str(policies)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        assert line.startswith("dagq api listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1]
        with urllib.request.urlopen(f"{url}/readyz", timeout=10) as resp:
            assert orjson.loads(resp.read())["status"] == "ok"
        request = urllib.request.Request(f"{url}/api/v1/whoami", headers={"X-API-Key": key})
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert orjson.loads(resp.read())["user"] == "ada"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_dagq_api_refuses_a_broken_policy(tmp_path: Path, redis_url: str) -> None:
    policies = ensure_policies_dir(tmp_path / "policies")
    (policies / "policy.csv").write_text("p, workflow_admin\n")
    env = {**os.environ, "DAGQ_REDIS_URL": redis_url, "DAGQ_DATA_DIR": str(tmp_path / "d")}
    result = subprocess.run(
        [sys.executable, "-c", "from serve.cli import main; main()", "api", "--port", "0",
         "--policies", str(policies)],
        capture_output=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert b"error [CONFIG]: policy.csv line 1" in result.stderr
    assert b"Traceback" not in result.stderr
