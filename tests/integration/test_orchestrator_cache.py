"""More active runs than an orchestrator caches: every result is still applied.

``dagq bench sweep --active 10000`` stalled: 10,000 runs active against a cache of 4,096
run states.  Loading a batch's uncached runs evicted cached runs of that same batch, the
batch then failed reading them back, and the inbox reader (a separate ``dagq
orchestrator`` process) ended; 30,000 results were left unread.  Here the cache is 8
runs and a batch 50 entries (``queue.orchestrator_cache`` / ``orchestrator_batch``), so
200 runs expose the same mechanism.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.runs import RunService
from orchestrator.vocab import EventType, RunStatus
from tests.integration.conftest import StackFactory
from tests.integration.test_faults import Processes, started_processes
from tests.integration.test_runs import DIAMOND

RUNS = 200


@pytest.fixture
def small_cache(redis_url: str, key_prefix: str, tmp_path: Path) -> Iterator[Processes]:
    yield from started_processes(
        redis_url,
        key_prefix,
        tmp_path,
        orchestrator_cache="8",
        orchestrator_batch="50",
        visibility_timeout="2",
    )


async def test_a_separate_orchestrator_applies_every_result_with_more_runs_than_it_caches(
    make_stack: StackFactory, small_cache: Processes, tmp_path: Path
) -> None:
    stack = await make_stack(visibility_timeout=2)  # no loops here: all are processes
    stack.settings.workflow.execution.max_concurrent_runs = RUNS
    spec = await stack.workflow(DIAMOND)
    small_cache.start("orchestrator")
    runs = []
    for _ in range(RUNS // 20):  # 20 at a time: few connections on a loaded machine
        runs += await asyncio.gather(*(stack.service.start(spec.id) for _ in range(20)))
    for _ in range(2):
        small_cache.start(
            "worker", "--handlers", "orchestrator.bench.handlers", "--no-orchestrator"
        )

    async def drained() -> bool:
        return await stack.service.runs.active_count() == 0

    await stack.until(drained, timeout_s=180)
    loaded = await stack.service.runs.load_many([r.run_id for r in runs])
    assert [state.status for state, _ in loaded.values()] == [RunStatus.COMPLETED] * RUNS
    for run in runs[:20]:
        events = await stack.events(run.run_id)
        done = Counter(e.node for e in events if e.type == EventType.NODE_COMPLETED)
        assert len(done) == 10 and set(done.values()) == {1}
    letters = await stack.redis.xlen(stack.keys.dead_letters(0))
    assert letters == 0, "results were dead-lettered"
    logs = _logs(tmp_path, "orchestrator-")
    assert "applying inbox entries failed" not in logs and "Traceback" not in logs, logs[-3000:]


async def test_the_cache_and_batch_bounds_come_from_the_settings(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(orchestrator_cache=8, orchestrator_batch=50)
    orch = Orchestrator(RunService(stack.redis, stack.keys, stack.settings))
    assert (orch.cache_size, orch.batch) == (8, 50)
    assert (Orchestrator(stack.service, cache_size=3, batch=4).cache_size, 4) == (3, 4)


def _logs(folder: Path, prefix: str) -> str:
    return "".join(p.read_text() for p in folder.iterdir() if p.name.startswith(prefix))
