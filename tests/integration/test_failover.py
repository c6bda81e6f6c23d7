"""Redis Cluster failover under load: kill -9 the master holding a shard while runs are in
flight; with ``redis.wait_replicas: 1`` no acknowledged run is lost or doubled; without
it, what was lost is reported (printed, and in docs/benchmarks.md).

Each test starts its own 3+3 cluster (its nodes get killed), whichever Redis the
session uses otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.runs import RunService
from orchestrator.settings import Settings
from orchestrator.store.connection import Connection, connect
from orchestrator.store.devcluster import DevCluster
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker
from tests.integration.test_faults import HANDLERS, Processes, executions

# A cluster start, a failover and 200 runs: minutes on a loaded 2-core machine, beyond the
# suite's default per-test timeout (the waits inside have their own deadlines).
pytestmark = pytest.mark.timeout(600)

RUNS = 200
SHARDS = 4
CHAIN: dict[str, Any] = {
    "name": "failover",
    "nodes": [{"id": f"n{i}", "type": "task", "handler": "step"} for i in range(3)],
    "edges": [{"source": "n0", "target": "n1"}, {"source": "n1", "target": "n2"}],
}


@pytest.fixture
def cluster() -> Iterator[DevCluster]:
    """A cluster of this test's own, its nodes free to be killed."""
    with DevCluster(Path(tempfile.mkdtemp(prefix="dagq-failover-"))) as fresh:
        yield fresh


def settings_for(url: str, prefix: str, wait_replicas: int) -> Settings:
    return Settings(
        redis_url=url,
        workflow={
            "storage": {"prefix": prefix},
            "execution": {"max_concurrent_runs": 10_000},
        },
        queue={"shards": SHARDS, "heartbeat_interval": 0.2, "visibility_timeout": 3},
        redis={"wait_replicas": wait_replicas, "wait_timeout": 0.5},
    )


@pytest.fixture
async def conn(
    cluster: DevCluster, key_prefix: str, request: pytest.FixtureRequest
) -> AsyncIterator[Connection]:
    connection = await connect(settings_for(cluster.url, key_prefix, request.param))
    try:
        yield connection
    finally:
        await connection.aclose()


async def _wait_for(check: Any, what: str, timeout_s: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _bounded(task: asyncio.Task[None], what: str, timeout_s: float) -> None:
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    assert done, f"timed out after {timeout_s:.0f}s waiting for {what}"
    task.result()


@pytest.mark.parametrize("conn", [1, 0], ids=["wait_replicas=1", "wait_replicas=0"], indirect=True)
async def test_kill_9_of_a_shard_master_with_200_runs_in_flight(
    cluster: DevCluster, conn: Connection
) -> None:
    wait_replicas = conn.settings.redis.wait_replicas
    service = RunService(conn.redis, conn.keys, conn.settings)
    ran: Counter[tuple[str, str]] = Counter()
    registry = Registry()

    async def step(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        ran[(ctx.run_id, ctx.node_id)] += 1
        await asyncio.sleep(0.02)  # keeps runs in flight: work, not a wait for a condition
        return {ctx.node_id: ctx.run_id}

    registry.register("step", step)
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(Orchestrator(RunService(conn.redis, conn.keys, conn.settings),
                                         claim_idle_s=2).run(stop))
        for _ in range(2)
    ] + [
        asyncio.create_task(Worker(conn.redis, conn.keys, conn.settings, registry,
                                   concurrency=32).run(stop))
        for _ in range(2)
    ]  # fmt: skip
    record = await service.workflows.create(CHAIN | {"id": "failover"})
    acknowledged: list[str] = []
    refused: list[str] = []

    async def start_one() -> None:
        try:
            state = await service.start(record.spec.id)
        except Exception as exc:  # a refused start is counted, not fatal
            refused.append(f"{type(exc).__name__}: {exc}")
        else:
            acknowledged.append(state.run_id)

    async def start_all() -> None:
        for batch in range(0, RUNS, 20):
            await asyncio.gather(*(start_one() for _ in range(batch, min(RUNS, batch + 20))))

    victim = cluster.master_of_key(conn.keys.inbox(0))
    starting = asyncio.create_task(start_all())
    try:
        # Kill while runs are being created and executed: half acknowledged, some done.
        async def half_way() -> bool:
            return len(acknowledged) >= RUNS // 2 and len(ran) > 20

        await _wait_for(half_way, "half the runs started and some nodes run")
        in_flight = len(acknowledged)
        await asyncio.to_thread(cluster.kill, victim)
        await _bounded(starting, "the last runs to be started or refused", 120)
        await asyncio.to_thread(cluster.wait_failover, victim)
        await asyncio.to_thread(cluster.restart, victim)  # back as a replica

        async def settled() -> bool:
            loaded = await service.runs.load_many(acknowledged)
            return all(st.terminal for st, _ in loaded.values())

        await _wait_for(settled, "every surviving run to end", timeout_s=240)
        loaded = await service.runs.load_many(acknowledged)
    finally:
        stop.set()
        # Each worker and orchestrator stops within its own bounded shutdown (grace 10 s).
        done, running = await asyncio.wait(loops, timeout=90)
        assert not running, f"{len(running)} of the workers and orchestrators did not stop"
    crashed = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    assert not crashed, f"a worker or an orchestrator crashed: {crashed!r}"
    lost = [r for r in acknowledged if r not in loaded]
    finals = [st for st, _ in loaded.values()]
    completions: dict[str, Counter[str | None]] = {}
    for run_id in loaded:
        events = await service.events(run_id)
        completions[run_id] = Counter(e.node for e in events if e.type == "node_completed")
    doubled = [r for r, c in completions.items() if any(n > 1 for n in c.values())]
    reruns = sum(n - 1 for n in ran.values() if n > 1)
    print(
        f"\nfailover wait_replicas={wait_replicas}: killed {victim.port} with {in_flight} of "
        f"{RUNS} runs started; acknowledged {len(acknowledged)}, refused {len(refused)}, "
        f"lost {len(lost)}, doubled {len(doubled)}, handler re-executions {reruns}, "
        f"completed {sum(f.status == 'completed' for f in finals)}; refusals: "
        f"{dict(Counter(r[:90] for r in refused))}"
    )
    assert all(f.status == "completed" for f in finals), Counter(f.status for f in finals)
    assert all(len(c) == 3 for c in completions.values())  # every node completed
    assert doubled == []  # a node's completion is recorded once, whatever was redone
    if wait_replicas:
        assert lost == []
    assert len(acknowledged) + len(refused) == RUNS


async def test_a_worker_and_an_orchestrator_seeded_with_a_killed_node_keep_working(
    cluster: DevCluster, key_prefix: str, tmp_path: Path
) -> None:
    seed = cluster.master_of_key(f"{key_prefix}{{s0}}:inbox")
    only_seed = f"redis+cluster://127.0.0.1:{seed.port}"
    env = {
        **os.environ,
        "DAGQ_REDIS_URL": only_seed,
        "DAGQ_WORKFLOW__STORAGE__PREFIX": key_prefix,
        "DAGQ_QUEUE__VISIBILITY_TIMEOUT": "2",
        "DAGQ_QUEUE__HEARTBEAT_INTERVAL": "0.2",
        "DAGQ_QUEUE__SHARDS": str(SHARDS),
        "DAGQ_DATA_DIR": str(tmp_path / "data"),
    }
    procs = Processes(env, tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    settings = settings_for(cluster.url, key_prefix, 0)
    conn = await connect(settings)
    try:
        service = RunService(conn.redis, conn.keys, settings)
        record = await service.workflows.create(
            {"id": "seeded", "name": "seeded",
             "nodes": [{"id": f"n{i}", "type": "task", "handler": "quick"} for i in range(3)]}
        )  # fmt: skip
        worker = procs.start("worker", "--handlers", HANDLERS, "--no-orchestrator")
        orchestrator = procs.start("orchestrator")
        params = {"marker_dir": str(marks)}
        before = [await service.start(record.spec.id, params) for _ in range(8)]
        for run in before:
            assert (await service.wait(run.run_id, timeout_s=60)).status == "completed"

        await asyncio.to_thread(cluster.kill, seed)
        # A process starting now, its replica not yet promoted, waits for the promotion
        # instead of failing to start (and being restarted in a loop by its supervisor).
        late = await connect(settings)
        assert await late.redis.ping()
        await late.aclose()
        await asyncio.to_thread(cluster.wait_failover, seed)
        after = [await service.start(record.spec.id, params) for _ in range(8)]
        for run in after:
            assert (await service.wait(run.run_id, timeout_s=90)).status == "completed"
        assert worker.poll() is None and orchestrator.poll() is None  # never crashed
        counts = executions(marks)
        assert all(counts[(r.run_id, f"n{i}")] >= 1 for r in after for i in range(3))
    finally:
        procs.stop_all()
        with contextlib.suppress(Exception):
            await conn.aclose()
