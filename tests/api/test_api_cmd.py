"""``dagq api`` as a user runs it: prints its URL, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from tests.conftest import until


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


def _copies(pid: int) -> list[int]:
    """The API copies a first process started (their command line names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--copy-of" in argv and argv[argv.index(b"--copy-of") + 1] == str(pid).encode():
                found.append(int(entry.name))
    return found


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on ``port`` (from /proc)."""
    fds = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    rows = [row.split() for row in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    inodes = {r[9] for r in rows if r[1].endswith(f":{port:04X}") and r[3] == "0A"}
    return bool({f"socket:[{i}]" for i in inodes} & fds)


def _ready(url: str, *, times: int) -> None:
    for _ in range(times):
        with urllib.request.urlopen(f"{url}/readyz", timeout=10) as resp:
            assert orjson.loads(resp.read())["status"] == "ok"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_api(tmp_path: Path, redis_url: str, key_prefix: str, *extra: str) -> tuple[Any, str]:
    policies = ensure_policies_dir(tmp_path / "policies")
    env = {
        **os.environ,
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_DATA_DIR": str(tmp_path / "data"),
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
    }
    env.pop("DAGQ_CONFIG", None)
    argv = [sys.executable, "-c", "from serve.cli import main; main()", "api", "--host"]
    argv += ["127.0.0.1", "--port", "0", "--policies", str(policies), *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, cwd=tmp_path)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    assert line.startswith("dagq api listening on http://127.0.0.1:"), line
    return proc, line.rsplit(" ", 1)[1]


async def test_api_processes_share_one_port_and_stop_together(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    proc, url = _start_api(tmp_path, redis_url, key_prefix, "--processes", "3")
    try:
        copies = _copies(proc.pid)
        assert len(copies) == 2
        port = int(url.rsplit(":", 1)[1])
        for pid in copies:  # each copy listens on the port itself (SO_REUSEPORT)
            assert _listens(pid, port), f"copy {pid} does not listen on {port}"
        _ready(url, times=20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        await until(lambda: _none_alive(copies), "the copies to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _none_alive(pids: list[int]) -> bool:
    return not any(_alive(p) for p in pids)


async def test_api_copies_stop_when_the_first_process_is_killed(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    proc, _ = _start_api(tmp_path, redis_url, key_prefix, "--processes", "2")
    copies = _copies(proc.pid)
    assert len(copies) == 1
    proc.kill()
    proc.wait()
    await until(lambda: _none_alive(copies), "an orphaned copy to stop")


async def test_a_dead_api_copy_takes_the_group_down_with_a_failure_status(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    proc, _ = _start_api(tmp_path, redis_url, key_prefix, "--processes", "2")
    try:
        (copy,) = _copies(proc.pid)
        os.kill(copy, signal.SIGKILL)
        assert proc.wait(timeout=60) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
