"""``dagq runs watch`` (a real process) keeps following a run across an API restart."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import PIPELINE, OpsStack

ops = ops_fixtures.ops
ops_worker = ops_fixtures.ops_worker

DAGQ = [sys.executable, "-c", "from serve.cli import main; main()"]


async def _line_with(stream: asyncio.StreamReader, text: str, seen: list[str]) -> None:
    """Read lines (kept in ``seen``) until one holds ``text``; fail at the end of output."""
    while True:
        raw = await asyncio.wait_for(stream.readline(), timeout=30)
        if not raw:
            raise AssertionError(f"output ended without {text!r}: {seen}")
        seen.append(raw.decode().rstrip("\n"))
        if text in seen[-1]:
            return


async def test_watch_reconnects_after_the_api_restarts(
    ops: OpsStack, ops_worker: Any, tmp_path: Path
) -> None:
    run_id = await ops.start_run(PIPELINE, {"delay_s": 0.4})
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGQ_")}
    env["DAGQ_DATA_DIR"] = str(tmp_path / "cli-data")
    proc = await asyncio.create_subprocess_exec(
        *DAGQ, "runs", "watch", run_id, "--api", ops.base_url, "--key", ops.keys["operator"],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    err: list[str] = []
    try:
        await _line_with(proc.stdout, "node_completed", out)  # followed live
        await ops.stop_api()
        await _line_with(proc.stderr, "reconnecting (attempt 1)", err)
        await ops.start_api()
        await _line_with(proc.stderr, "reconnected", err)
        rest, more_err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    out += rest.decode().splitlines()
    assert proc.returncode == 0, (out, err, more_err)
    kinds = [line.split()[2] for line in out if line[:2].isdigit()]
    assert kinds.count("run_started") == 1  # nothing replayed twice
    assert kinds.count("node_completed") == 6
    assert kinds[-1] == "run_completed"
    assert err[0].endswith("; reconnecting (attempt 1)") and err[-1] == "reconnected; following on"
    assert out[-1].startswith(f"run {run_id}")
