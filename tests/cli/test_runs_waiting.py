"""Why a run waits, said by ``dagq runs watch`` and ``runs start --wait`` (issue 12, item 2),
and ``runs watch`` without an id.

The waiting cases run ``dagq`` as real processes against the test API: they do not end
by themselves, so the test reads their output as it comes, then cancels the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import EXAMPLES, Cli
from tests.cli.test_runs_cli import push, write_spec
from tests.conftest import until

pytestmark = pytest.mark.usefixtures("worker")
NOTE = "waiting: no live worker offers handler 'nobodyHandles' (node work)"


async def _spawn(cli: Cli, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGQ_")}
    env["DAGQ_DATA_DIR"] = str(cli.data_dir)
    env.update({"DAGQ_API_URL": cli.api.base_url, "DAGQ_API_KEY": cli.api.keys["operator"]})
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("dagq")),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _line_with(stream: asyncio.StreamReader | None, text: str) -> list[str]:
    """Lines of ``stream`` up to the first holding ``text``."""
    assert stream is not None
    seen: list[str] = []
    while True:
        raw = await asyncio.wait_for(stream.readline(), timeout=60)
        assert raw, f"the stream ended before {text!r}: {seen}"
        seen.append(raw.decode())
        if text in seen[-1]:
            return seen


async def _stuck_run(cli: Cli, tmp_path: Path) -> str:
    await push(cli, write_spec(tmp_path, "stuck", "nobodyHandles"))
    return (await cli("runs", "start", "stuck")).stdout.strip()


async def test_watch_says_why_the_run_waits(cli: Cli, tmp_path: Path) -> None:
    run_id = await _stuck_run(cli, tmp_path)
    watch = await _spawn(cli, "runs", "watch", run_id)
    try:
        await _line_with(watch.stdout, NOTE)
        assert (await cli("runs", "cancel", run_id)).exit_code == 0
        out, _ = await asyncio.wait_for(watch.communicate(), timeout=60)
    finally:
        if watch.returncode is None:
            watch.kill()
            await watch.wait()
    assert watch.returncode == 1
    assert "run_cancelled" in out.decode()


async def test_start_wait_says_why_the_run_waits(cli: Cli, tmp_path: Path) -> None:
    await push(cli, write_spec(tmp_path, "stuck", "nobodyHandles"))
    start = await _spawn(cli, "runs", "start", "stuck", "--wait")
    try:
        await _line_with(start.stderr, NOTE)
        [run] = json.loads((await cli("runs", "ls", "--json")).stdout)["runs"]
        assert (await cli("runs", "cancel", run["runId"])).exit_code == 0
        out, _ = await asyncio.wait_for(start.communicate(), timeout=60)
    finally:
        if start.returncode is None:
            start.kill()
            await start.wait()
    assert start.returncode == 1
    assert f"run {run['runId']}  stuck v1  cancelled" in out.decode()


async def test_watch_without_an_id_follows_the_latest_run(cli: Cli) -> None:
    none_yet = await cli("runs", "watch")
    assert none_yet.exit_code == 1 and "no runs to watch yet" in none_yet.stderr
    await push(cli, EXAMPLES / "data-pipeline.yaml")
    first = json.loads((await cli("runs", "start", "data-processing-pipeline", "--json")).stdout)
    latest = json.loads((await cli("runs", "start", "data-processing-pipeline", "--json")).stdout)
    assert first["runId"] != latest["runId"]

    async def ended() -> bool:
        view = json.loads((await cli("runs", "get", latest["runId"], "--json")).stdout)
        return bool(view["status"] == "completed")

    await until(ended, "the latest run to complete")
    watched = await cli("runs", "watch")
    assert watched.exit_code == 0, watched.output
    assert f"watching the latest run, {latest['runId']}" in watched.stderr
    assert watched.stdout.splitlines()[-1].startswith(f"run {latest['runId']}  ")
