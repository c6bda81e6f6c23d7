"""How the remote commands find the API, and what they say when they cannot reach it:
``--api``/``--key``, the environment, ``local.json`` of ``dagq up``; a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from orchestrator.runtime.stack import StackInfo, write_local_config
from orchestrator.settings import load_settings
from tests.api.conftest import Api
from tests.cli.conftest import EXAMPLES, ROOT, Cli, invoke

DAGQ = [sys.executable, "-c", "from serve.cli import main; main()"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens once the socket is closed


async def test_unreachable_api_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    for argv in (["runs", "ls"], ["workflows", "get", "x"], ["queues", "dlq", "ls"]):
        result = await invoke(
            [*argv, "--api", url, "--key", "k"], env={"DAGQ_DATA_DIR": str(tmp_path)}
        )
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"error [UNAVAILABLE]: cannot reach the dagq API at {url}: connection refused\n"
        )
    bad_url = await invoke(["runs", "ls", "--api", "localhost:8080", "--key", "k"])
    assert bad_url.exit_code == 2 and "is not an http:// or https:// URL" in bad_url.stderr


async def test_nothing_configured_says_how_to_configure(tmp_path: Path) -> None:
    result = await invoke(["workflows", "ls"], env={"DAGQ_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "no dagq API configured" in result.stderr and "dagq up" in result.stderr
    (tmp_path / "local.json").write_text("{not json")
    broken = await invoke(["workflows", "ls"], env={"DAGQ_DATA_DIR": str(tmp_path)})
    assert broken.exit_code == 2 and "[CONFIG]" in broken.stderr
    assert "local.json" in broken.stderr and "Traceback" not in broken.output


async def test_local_stack_is_found_through_local_json(api: Api, tmp_path: Path) -> None:
    data_dir = tmp_path / "stack-data"
    write_local_config(
        load_settings(data_dir=data_dir),
        StackInfo(api.base_url, api.keys["admin"], "ada", api.policies, "redis://unused"),
    )
    env = {"DAGQ_DATA_DIR": str(data_dir)}
    pushed = await invoke(["workflows", "push", str(EXAMPLES / "order-processing.yaml")], env=env)
    assert pushed.exit_code == 0, pushed.output
    listed = await invoke(["workflows", "ls", "--json"], env=env)
    assert [w["id"] for w in json.loads(listed.stdout)["workflows"]] == ["order-processing"]
    # An explicit key wins over the local admin's: the operator may not push.
    as_operator = await invoke(
        ["workflows", "rm", "order-processing", "--yes", "--key", api.keys["operator"]], env=env
    )
    assert as_operator.exit_code == 3
    # The environment names an API too.
    from_env = await invoke(
        ["runs", "ls"], env={"DAGQ_API_URL": api.base_url, "DAGQ_API_KEY": api.keys["operator"]}
    )
    assert (from_env.exit_code, from_env.stdout.strip()) == (0, "no runs")


def _as_in_a_terminal() -> None:
    """Ctrl+C as a terminal delivers it: a suite started in the background by a
    non-interactive shell (``pytest ... &``) runs with SIGINT ignored, and a child
    inherits that, so the watcher would never hear the test's SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGQ_")}
    env["DAGQ_DATA_DIR"] = str(tmp_path / "sub-data")
    return env


async def test_runs_ls_in_a_real_subprocess(cli: Cli, tmp_path: Path) -> None:
    await cli("workflows", "push", str(EXAMPLES / "data-pipeline.yaml"), role="designer")
    run_id = (await cli("runs", "start", "data-processing-pipeline")).stdout.strip()
    proc = await asyncio.create_subprocess_exec(
        *DAGQ, "runs", "ls", "--api", cli.api.base_url, "--key", cli.api.keys["operator"],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(tmp_path),
        cwd=ROOT,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    header, row = out.decode().splitlines()
    assert header.split()[:2] == ["RUN", "WORKFLOW"]
    assert row.split()[:2] == [run_id, "data-processing-pipeline"]

    denied = await asyncio.create_subprocess_exec(
        *DAGQ, "queues", "dlq", "purge", "1-0", "--api", cli.api.base_url,
        "--key", cli.api.keys["operator"],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(tmp_path),
    )  # fmt: skip
    _, err = await asyncio.wait_for(denied.communicate(), 60)
    assert denied.returncode == 3
    assert err.decode().strip() == (
        "error [FORBIDDEN]: permission denied: operators cannot purge dead letters "
        "(system:configure)"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
async def test_ctrl_c_stops_watching_and_leaves_the_run_alone(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "stuck.yaml"
    spec.write_text("id: stuck\nname: Stuck\nnodes:\n  - {id: a, type: task, handler: nobody}\n")
    await cli("workflows", "push", str(spec))
    run_id = (await cli("runs", "start", "stuck")).stdout.strip()
    proc = await asyncio.create_subprocess_exec(
        *DAGQ, "runs", "watch", run_id, "--api", cli.api.base_url, "--key", cli.api.keys["admin"],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(tmp_path),
        preexec_fn=_as_in_a_terminal,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        seen: list[str] = []
        while not any("node_queued" in line for line in seen):
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, "watch ended before the run's first events"
            seen.append(line.decode())
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:  # a failed wait must not leave the watcher running
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130
    assert err.decode().strip() == f"stopped watching {run_id}; the run goes on"
    still = await cli("runs", "get", run_id, "--json")
    assert '"status": "running"' in still.stdout
