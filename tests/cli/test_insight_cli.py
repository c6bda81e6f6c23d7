"""Replay, Gantt, diff and stats of runs executed by a real worker process with known timings.

The workflow: prep (0.1 s) fans out to fast (0.2 s) and slow (0.3 s, fails, 1 s of fixed
backoff, 0.3 s again), which join before report (0.1 s).  slow dominates, so the critical
path is prep → slow → join → report, and it accounts for the run's whole duration.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli.remote.watch import follow
from orchestrator.client import DagqClient
from orchestrator.vocab import NODE_EVENT_STATUS
from orchestrator.wire.runs import WorkflowRun
from tests.api.conftest import Api
from tests.cli.conftest import Cli
from tests.integration.test_faults import Processes

HANDLERS = str(Path(__file__).with_name("insight_handlers.py"))
NAP = {"type": "task", "handler": "nap", "retries": 0}
SPEC: dict[str, Any] = {
    "id": "fanout",
    "name": "Fan-out",
    "parameters": {"scale": {"type": "number", "default": 1.0}},
    "nodes": [
        {"id": "prep", **NAP},
        {"id": "fast", **NAP},
        {"id": "slow", "type": "task", "handler": "flaky_nap", "retries": 1,
         "retry_policy": {"backoff": "fixed", "initial_interval": "1s"}},
        {"id": "join", "type": "parallel"},
        {"id": "report", **NAP},
    ],
    "edges": [
        {"source": "prep", "target": "fast"},
        {"source": "prep", "target": "slow"},
        {"source": "fast", "target": "join"},
        {"source": "slow", "target": "join"},
        {"source": "join", "target": "report"},
    ],
}  # fmt: skip


@pytest.fixture
def worker_process(
    api: Api, redis_url: str, key_prefix: str, tmp_path: Path
) -> Iterator[Processes]:
    """A real ``dagq worker`` process (no orchestrator: the API process runs it)."""
    env = {
        **os.environ,
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
        "DAGQ_DATA_DIR": str(tmp_path / "worker-data"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    procs = Processes(env, tmp_path)
    procs.start("worker", "--handlers", HANDLERS, "--no-orchestrator", "--concurrency", "4")
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
async def client(api: Api) -> AsyncIterator[DagqClient]:
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as c:
        yield c


async def _finished_run(client: DagqClient, scale: float = 1.0) -> WorkflowRun:
    run = await client.start_run("fanout", {"scale": scale})
    return await follow(client, run.runId, lambda _event: None)


async def test_the_critical_path_of_a_real_run_is_its_dominating_chain(
    api: Api, client: DagqClient, worker_process: Processes, cli: Cli
) -> None:
    await client.create_workflow(SPEC)
    run = await _finished_run(client)
    assert run.status == "completed"
    gantt = await client.run_gantt(run.runId)
    assert gantt.critical_path == ["prep", "slow", "join", "report"]
    cp = gantt.critical
    # Same events, same clock: the path ends when the run does, to the millisecond.
    assert cp.total_ms == gantt.duration_ms
    assert abs(gantt.duration_ms - (run.duration or 0)) <= 1
    parts = cp.parts_ms
    assert sum(parts.values()) == cp.total_ms
    assert parts["execution"] >= 100 + 300 + 300 + 100
    assert parts["backoff"] >= 1000
    assert cp.share > 0.95
    assert [s.node for s in cp.steps] == gantt.critical_path
    slow = [b for b in gantt.nodes if b.node == "slow"]
    assert [(b.attempt, b.outcome) for b in slow] == [(1, "retrying"), (2, "completed")]
    assert slow[0].backoff_until_ms == slow[1].queued_ms
    assert all(b.critical for b in slow)
    assert not any(b.critical for b in gantt.nodes if b.node == "fast")

    text = await cli("runs", "gantt", run.runId, "--width", "100")
    assert text.exit_code == 0, text.output
    assert "critical path: prep → slow → join → report" in text.output
    assert "* slow #2" in text.output and "  fast" in text.output
    as_json = await cli("runs", "gantt", run.runId, "--json")
    assert json.loads(as_json.output)["critical_path"] == gantt.critical_path


async def test_replay_of_a_real_run_is_exact_and_ends_in_the_stored_state(
    api: Api, client: DagqClient, worker_process: Processes, cli: Cli
) -> None:
    await client.create_workflow(SPEC)
    run = await _finished_run(client)
    steps = await client.replay_steps(run.runId)
    assert steps.exact and steps.complete and steps.note is None
    statuses = dict(steps.initial)
    for step in steps.steps:
        for node, view in step.nodes.items():
            statuses[node] = view["status"]
        if step.nodeId and step.type in NODE_EVENT_STATUS:
            assert statuses[step.nodeId] == NODE_EVENT_STATUS[step.type], step
    assert statuses == {n: v.status for n, v in run.nodes.items()}

    # Moments read off the Gantt: while slow's first attempt runs, and while it backs off.
    gantt = await client.run_gantt(run.runId)
    slow = [b for b in gantt.nodes if b.node == "slow"]
    assert slow[0].started_ms is not None and slow[0].ended_ms is not None
    running_at = (slow[0].started_ms + 1) / 1000
    out = await cli("runs", "replay", run.runId, "--at", f"{running_at}s", "--json")
    assert out.exit_code == 0, out.output
    moment = json.loads(out.output)
    assert moment["at"] == running_at and moment["exact"]
    assert moment["nodes"]["prep"] == "completed"
    assert moment["nodes"]["slow"] == "running"
    assert moment["nodes"]["report"] == "pending"
    backoff_at = f"{slow[0].ended_ms + 1}ms"
    later = json.loads(
        (await cli("runs", "replay", run.runId, "--at", backoff_at, "--json")).output
    )
    assert later["nodes"]["slow"] == "waiting"
    first = json.loads((await cli("runs", "replay", run.runId, "--event", "1", "--json")).output)
    assert first["event"] == 1 and first["lastEvent"]["type"] == "run_started"
    assert first["nodes"]["prep"] == "queued"
    text = await cli("runs", "replay", run.runId, "--event", "1")
    assert "prep" in text.output and "queued" in text.output

    bad = await cli("runs", "replay", run.runId, "--at", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output
    both = await cli("runs", "replay", run.runId, "--at", "1s", "--event", "2")
    assert both.exit_code == 2
    far = await cli("runs", "replay", run.runId, "--event", "9999")
    assert far.exit_code != 0 and "no event 9999" in far.output
    missing = await cli("runs", "gantt", "nope")
    assert missing.exit_code != 0 and "nope" in missing.output


async def test_diff_and_stats_over_real_runs(
    api: Api, client: DagqClient, worker_process: Processes, cli: Cli
) -> None:
    await client.create_workflow(SPEC)
    a = await _finished_run(client, 1.0)
    b = await _finished_run(client, 2.0)
    diff = await client.diff_runs(a.runId, b.runId)
    assert not diff.versions_differ and diff.branches == []
    assert diff.outputs["prep"] == [
        {"path": "/prep", "op": "changed", "a": pytest.approx(0.1), "b": pytest.approx(0.2)}
    ]
    prep = next(d for d in diff.durations if d["node"] == "prep")
    assert prep["a_exec_ms"] >= 100 and prep["b_exec_ms"] >= 200  # queue waits vary; sleeps not
    text = await cli("runs", "diff", a.runId, b.runId)
    assert text.exit_code == 0, text.output
    assert "same branches" in text.output and "/prep" in text.output

    stats = await client.workflow_stats("fanout", last=5)
    assert stats.runs == 2
    assert stats.nodes["slow"].p95_ms >= 2 * 300 * 2 + 1000
    assert (stats.nodes["slow"].exec_p95_ms or 0) >= 2 * 300 * 2
    assert (stats.nodes["prep"].exec_p50_ms or 0) >= 100
    table = await cli("workflows", "stats", "fanout", "--last", "5")
    assert table.exit_code == 0 and "RUNNING P95" in table.output
    assert table.output.index("slow") < table.output.index("join")  # slowest first
    gone = await cli("workflows", "stats", "nope")
    assert gone.exit_code != 0 and "nope" in gone.output
