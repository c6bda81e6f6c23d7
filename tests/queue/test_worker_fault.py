"""A real process fault: ``kill -9`` of ``dagq worker`` mid-job, another worker finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.logs import LOG_DIR_ENV
from orchestrator.store.queue import JobQueue
from orchestrator.store.workers import LiveWorkers
from tests.queue.helpers import eventually, inbox_messages, make_job

HANDLERS = """
import os
import time

from orchestrator import handler


@handler("blocker")
def blocker(input, ctx):
    if os.environ.get("BLOCK") == "1":
        time.sleep(3600)  # the first worker is killed in here
    return {"pid": os.getpid(), "attempt": ctx.attempt}
"""


def start_worker(
    tmp_path: Path, redis_url: str, key_prefix: str, worker_id: str, *, block: bool
) -> subprocess.Popen[bytes]:
    # No DAGQ_ settings of the outer environment, but the session's log folder (secret scan).
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGQ_") or k == LOG_DIR_ENV}
    env.update(
        DAGQ_REDIS_URL=redis_url,
        DAGQ_DATA_DIR=str(tmp_path / "data"),
        DAGQ_WORKFLOW__STORAGE__PREFIX=key_prefix,
        DAGQ_QUEUE__VISIBILITY_TIMEOUT="1",
        DAGQ_QUEUE__HEARTBEAT_INTERVAL="0.2",
        BLOCK="1" if block else "0",
    )
    log = (tmp_path / f"{worker_id}.log").open("wb")
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from orchestrator.cli import main; main()",
            "worker",
            "--handlers",
            str(tmp_path / "fault_handlers.py"),
            "--id",
            worker_id,
            "--concurrency",
            "2",
            "--no-orchestrator",  # this test is about the queue alone
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
async def test_kill_9_mid_job_then_another_worker_completes_it_once(
    tmp_path: Path,
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: aioredis.Redis,
    queue: JobQueue,
) -> None:
    (tmp_path / "fault_handlers.py").write_text(textwrap.dedent(HANDLERS))
    job = make_job("blocker", timeout_s=600)
    await queue.enqueue(job)

    first = start_worker(tmp_path, redis_url, key_prefix, "first", block=True)
    second: subprocess.Popen[bytes] | None = None
    try:
        await eventually(
            lambda: inbox_messages(redis_client, keys),
            lambda ms: any(m.type == "started" and m.worker == "first" for m in ms),
            within_s=60,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(30)

        second = start_worker(tmp_path, redis_url, key_prefix, "second", block=False)
        msgs = await eventually(
            lambda: inbox_messages(redis_client, keys),
            lambda ms: any(m.type == "succeeded" for m in ms),
            within_s=60,
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, (tmp_path / "second.log").read_text()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)

    msgs = await inbox_messages(redis_client, keys)
    mine = [m for m in msgs if m.token == job.token]
    done = [m for m in mine if m.type in ("succeeded", "failed")]
    assert len(done) == 1
    assert done[0].type == "succeeded" and done[0].worker == "second"
    assert done[0].output == {"pid": second.pid, "attempt": 1}
    assert {m.worker for m in mine if m.worker == "first"} == {"first"}
    assert all(m.type == "started" for m in mine if m.worker == "first")
    assert await redis_client.xlen(keys.queue(0, "normal", "blocker")) == 0
    # The graceful stop retired the second worker; the killed one simply went silent.
    live = await LiveWorkers(redis_client, keys, queue.settings).live_workers()
    assert "second" not in [w.worker_id for w in live]
