"""The in-process local stack behind ``dagq up`` and ``dagq tui``."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from orchestrator.client import LOCAL_CONFIG, client_for
from orchestrator.runtime.datadir_lock import DataDirInUse, DataDirLock
from orchestrator.runtime.stack import LOCAL_ADMIN, LocalStack, local_policies_dir
from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _settings(redis_url: str, prefix: str, data_dir: Path) -> Settings:
    return Settings(
        redis_url=redis_url, data_dir=data_dir, workflow={"storage": {"prefix": prefix}}
    )


async def test_stack_serves_seeds_examples_and_records_a_private_local_config(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(redis_url, key_prefix, tmp_path / "data")
    stack = LocalStack(
        settings,
        handlers=[str(ROOT / "examples" / "handlers.py")],
        policies_dir=tmp_path / "policies",
        examples=ROOT / "examples",
    )
    info = await stack.start()
    try:
        config = tmp_path / "data" / LOCAL_CONFIG
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert orjson.loads(config.read_bytes())["api_url"] == info.api_url
        async with client_for(settings) as client:
            me = await client.whoami()
            assert me.user == LOCAL_ADMIN and me.role == "workflow_admin"
            ids = {w.id for w in (await client.list_workflows()).items}
            assert ids == {
                "data-processing-pipeline",
                "order-processing",
                "refund-approval",
                "batch-records",
                "enrich-record",
            }
            run = await client.start_run("order-processing", {"fail_at": "ship_order"})
            status = await client.get_run_status(run.runId)
            for _ in range(600):
                if status.is_complete:
                    break
                await asyncio.sleep(0.05)
                status = await client.get_run_status(run.runId)
            assert status.status == "compensated"
    finally:
        await stack.stop()
    assert not (tmp_path / "data" / LOCAL_CONFIG).exists()  # no stale pointer to a dead API


async def test_a_second_stack_on_the_data_dir_refuses_and_names_the_first(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(redis_url, key_prefix, tmp_path / "data")
    first = LocalStack(settings, handlers=[], policies_dir=tmp_path / "policies", command="dagq up")
    second = LocalStack(
        settings, handlers=[], policies_dir=tmp_path / "policies", command="dagq tui"
    )
    one = await first.start()
    try:
        with pytest.raises(DataDirInUse) as refused:
            await second.start()
        assert f"in use by dagq up (pid {os.getpid()}), API {one.api_url}" in refused.value.message
        # The refused one took nothing away: the first's local.json and key still serve.
        async with client_for(settings) as client:
            assert (await client.whoami()).user == LOCAL_ADMIN
    finally:
        await first.stop()
    await second.start()  # free once the first stopped
    try:
        async with client_for(settings) as client:
            assert (await client.whoami()).user == LOCAL_ADMIN
    finally:
        await second.stop()


_HOLDER = """
import sys, time
from pathlib import Path
from orchestrator.runtime.datadir_lock import DataDirLock
lock = DataDirLock(Path(sys.argv[1]), "dagq up")
lock.acquire()
lock.publish(api_url="http://127.0.0.1:1", web_url="http://127.0.0.1:2")
print("held", flush=True)
time.sleep(600)
"""


def _dagq(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {**os.environ, "DAGQ_DATA_DIR": str(data_dir)}
    for name in ("DAGQ_REDIS_URL", "DAGQ_API_URL", "DAGQ_API_KEY", "DAGQ_CONFIG"):
        clean.pop(name, None)
    env = {**clean, **(env or {})}
    dagq = Path(sys.executable).with_name("dagq")
    return subprocess.run(
        [str(dagq), *args], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_up_and_tui_refuse_a_data_dir_another_process_holds_until_it_is_gone(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(data)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        named = (
            f"in use by dagq up (pid {holder.pid}), web http://127.0.0.1:2, API http://127.0.0.1:1"
        )
        up = _dagq("up", "--workers", "0", "--port", "0", data_dir=data)
        assert up.returncode == 2 and named in up.stderr, up.stderr  # cannot start
        tui = _dagq("tui", data_dir=data)
        assert tui.returncode == 2 and named in tui.stderr, tui.stderr
        assert not (data / "redis").exists()  # refused before anything started
    finally:
        holder.kill()
        holder.wait(10)
    lock = DataDirLock(data, "dagq up")
    lock.acquire()  # the killed holder's lock is taken over
    try:
        assert orjson.loads((data / "stack.lock").read_bytes())["pid"] == os.getpid()
    finally:
        lock.release()


def test_a_local_stack_never_writes_into_a_policies_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "repo"
    (checkout / "policies").mkdir(parents=True)
    (checkout / "policies" / "model.conf").write_text("[request_definition]\n")
    monkeypatch.chdir(checkout)
    monkeypatch.delenv("DAGQ_POLICIES_DIR", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.resolved_policies_dir() == checkout / "policies"  # what `dagq api` uses
    assert local_policies_dir(settings) == tmp_path / "data" / "policies"
    explicit = Settings(data_dir=tmp_path / "data", policies_dir=tmp_path / "mine")
    assert local_policies_dir(explicit) == tmp_path / "mine"


def test_up_on_a_busy_web_port_says_use_port(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    env = {"DAGQ_REDIS_URL": redis_url, "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        up = _dagq("up", "--workers", "0", "--port", str(port), data_dir=tmp_path / "data", env=env)
    assert up.returncode == 2, up.stderr
    assert f"the web port is in use (127.0.0.1:{port})" in up.stderr
    assert "use --port PORT (0: any free port)" in up.stderr and "Traceback" not in up.stderr
    assert not (tmp_path / "data" / LOCAL_CONFIG).exists()  # the stack it began is stopped


def test_up_help_shows_the_defaults_in_force(tmp_path: Path) -> None:
    shown = _dagq("up", "--help", data_dir=tmp_path / "data", env={"DAGQ_WEB__PORT": "8123"})
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "Web port (web.port; 0: any free port). [default: 8123]" in text
    assert "[default: 127.0.0.1]" in text and "[default: everysec]" in text
    unwrapped = "".join(shown.stdout.split())  # a long path wraps anywhere
    assert f"[default:{tmp_path / 'data' / 'policies'}]" in unwrapped
