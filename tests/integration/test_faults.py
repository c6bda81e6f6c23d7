"""Real processes killed mid-run: workers and orchestrators come back and runs still end right."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import NotFound
from tests.integration.conftest import Stack, StackFactory

HANDLERS = str(Path(__file__).with_name("fault_handlers.py"))
ROOT = Path(__file__).resolve().parents[2]


class Processes:
    """Starts `dagq` subprocesses on the test's Redis and key prefix; kills what is left."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{args[0]}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-c", "from serve.cli import main; main()", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def kill9(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def started_processes(
    redis_url: str, key_prefix: str, tmp_path: Path, **queue: str
) -> Iterator[Processes]:
    """:class:`Processes` on the test's Redis and prefix, with short ``queue`` settings
    (visibility timeout 1 s unless given), stopped at the end."""
    env = {
        **os.environ,
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
        "DAGQ_DATA_DIR": str(tmp_path / "data"),
    }
    queue = {"visibility_timeout": "1", "heartbeat_interval": "0.2", **queue}
    env.update({f"DAGQ_QUEUE__{k.upper()}": v for k, v in queue.items()})
    procs = Processes(env, tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def processes(redis_url: str, key_prefix: str, tmp_path: Path) -> Iterator[Processes]:
    yield from started_processes(redis_url, key_prefix, tmp_path)


def executions(folder: Path) -> Counter[tuple[str, str]]:
    """How many times each (run, node) ran, across attempts and deliveries."""
    counts: Counter[tuple[str, str]] = Counter()
    for marker in folder.iterdir():
        run, node, _attempt = marker.name.split(".")
        counts[(run, node)] += len(marker.read_text())
    return counts


async def completions(stack: Stack, run_id: str) -> Counter[str | None]:
    return Counter(e.node for e in await stack.events(run_id) if e.type == "node_completed")


CHAIN: dict[str, Any] = {
    "name": "killable",
    "nodes": [
        {"id": "first", "type": "task", "handler": "quick"},
        {"id": "slow", "type": "task", "handler": "slowstep", "retries": 0},
        {"id": "last", "type": "task", "handler": "quick"},
    ],
    "edges": [{"source": "first", "target": "slow"}, {"source": "slow", "target": "last"}],
}


async def test_kill_9_of_a_worker_mid_node_redelivers_and_applies_once(
    make_stack: StackFactory, processes: Processes, tmp_path: Path
) -> None:
    stack = await make_stack(visibility_timeout=1)
    stack.start(workers=0)  # the orchestrator runs here; workers are real processes
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = await stack.workflow(CHAIN)
    doomed = processes.start("worker", "--handlers", HANDLERS, "--no-orchestrator")
    run = await stack.service.start(spec.id, {"marker_dir": str(marks), "sleep_s": 2})

    async def slow_running() -> bool:
        # The handler itself has begun (its marker exists), not just the delivery.
        return executions(marks)[(run.run_id, "slow")] == 1

    await stack.until(slow_running, timeout_s=30)
    processes.kill9(doomed)
    processes.start("worker", "--handlers", HANDLERS, "--no-orchestrator")
    final = await stack.wait(run.run_id, timeout_s=60)

    assert final.status == "completed"
    assert final.nodes["slow"].attempts == 1  # redelivered: the same attempt, not a retry
    assert executions(marks)[(run.run_id, "slow")] == 2  # killed once, then run again
    assert set((await completions(stack, run.run_id)).values()) == {1}


async def test_a_redelivered_attempt_has_the_same_idempotency_key_and_a_retry_a_new_one(
    make_stack: StackFactory, processes: Processes, tmp_path: Path
) -> None:
    # Issue 10 item 12: the worker dies between the side effect and the acknowledgement.
    stack = await make_stack(visibility_timeout=1)
    stack.start(workers=0)
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = await stack.workflow(
        {
            "name": "pay",
            "nodes": [
                {
                    "id": "charge",
                    "type": "task",
                    "handler": "payment",
                    "retries": 1,
                    "retry_policy": {"backoff": "fixed", "initial_interval": "10ms"},
                }
            ],
        }
    )
    doomed = processes.start("worker", "--handlers", HANDLERS, "--no-orchestrator")
    run = await stack.service.start(spec.id, {"marker_dir": str(marks), "sleep_s": 60})
    ledger = marks / f"ledger.{run.run_id}"

    async def charged_once() -> bool:
        return ledger.exists() and len(ledger.read_text().splitlines()) == 1

    await stack.until(charged_once, timeout_s=30)
    processes.kill9(doomed)  # after the side effect, before any result
    processes.start("worker", "--handlers", HANDLERS, "--no-orchestrator")
    final = await stack.wait(run.run_id, timeout_s=60)

    assert final.status == "completed"
    first, redelivered, retried = ledger.read_text().splitlines()
    assert first == redelivered == f"{run.run_id}:charge:{final.epoch}.1"
    assert retried == f"{run.run_id}:charge:{final.epoch}.2"
    assert final.nodes["charge"].attempts == 2
    assert final.nodes["charge"].output == {"charged": retried}


async def test_every_orchestrator_killed_mid_run_and_restarted(
    make_stack: StackFactory, processes: Processes, tmp_path: Path
) -> None:
    stack = await make_stack(visibility_timeout=1)  # no loops here: all are processes
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = await stack.workflow(
        {
            "name": "long-chain",
            "nodes": [{"id": f"n{i}", "type": "task", "handler": "quick"} for i in range(8)],
        }
    )
    processes.start("worker", "--handlers", HANDLERS, "--no-orchestrator", "--concurrency", "32")
    orchestrators = [processes.start("orchestrator") for _ in range(2)]
    params = {"marker_dir": str(marks), "pause_s": 0.05}
    runs = [await stack.service.start(spec.id, params) for _ in range(40)]

    async def some_progress() -> bool:
        states = [await stack.service.get(r.run_id) for r in runs]
        done = sum(st.status == "completed" for st in states)
        return sum(n.status == "completed" for st in states for n in st.nodes.values()) > 40 and (
            done < len(runs)
        )

    await stack.until(some_progress, timeout_s=60)
    for proc in orchestrators:
        processes.kill9(proc)
    # Results pile up in the inbox with nobody to apply them.
    await stack.until(lambda: _results_waiting(stack))
    for _ in range(2):
        processes.start("orchestrator")
    finals = await asyncio.gather(*(stack.wait(r.run_id, timeout_s=90) for r in runs))

    assert [f.status for f in finals] == ["completed"] * len(runs)
    for final in finals:
        counts = await completions(stack, final.run_id)
        assert len(counts) == 8 and set(counts.values()) == {1}


async def _results_waiting(stack: Stack) -> bool:
    """Some shard's inbox holds entries no orchestrator has read."""
    for shard in range(stack.keys.shards):
        inbox = stack.keys.inbox(shard)
        groups: Any = await stack.redis.xinfo_groups(inbox)
        delivered = groups[0]["last-delivered-id"] if groups else b"0-0"
        if await stack.redis.xrange(inbox, min=b"(" + delivered, count=1):
            return True
    return False


async def test_1000_concurrent_runs_of_a_10_node_dag(make_stack: StackFactory) -> None:
    from tests.integration.test_runs import DIAMOND

    stack = await make_stack()
    stack.settings.workflow.execution.max_concurrent_runs = 1000

    @stack.handler("noop")
    async def noop(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {ctx.node_id: ctx.run_id}

    stack.start(orchestrators=2, workers=2, concurrency=64)
    spec = await stack.workflow(DIAMOND)
    runs = await asyncio.gather(*(stack.service.start(spec.id) for _ in range(1000)))

    async def drained() -> bool:
        return await stack.service.runs.active_count() == 0

    await stack.until(drained, timeout_s=240)
    loaded = await stack.service.runs.load_many([r.run_id for r in runs])
    finals = [state for state, _ in loaded.values()]
    assert len(finals) == 1000
    assert all(f.status == "completed" for f in finals)
    for final in finals:
        # Each run's data stayed its own: the last node saw its own run's outputs.
        assert final.output == {"c3": final.run_id}
        assert all(n.attempts == 1 for n in final.nodes.values())
    with pytest.raises(NotFound):
        await stack.service.get("run-does-not-exist")
