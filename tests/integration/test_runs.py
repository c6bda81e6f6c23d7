"""Runs end to end on a real Redis: orchestrator loop, executor, queue and workers together."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import Conflict, LimitExceeded, ParameterError
from orchestrator.keys import ORCH_GROUP
from orchestrator.protocol import InboxMessage
from orchestrator.worker.registry import HandlerContext, Registry
from tests.integration.conftest import Stack, StackFactory

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def load_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return data


def example_registry() -> Registry:
    registry = Registry()
    registry.load(str(EXAMPLES / "handlers.py"))
    return registry


@pytest.mark.parametrize(
    ("quality", "stored", "skipped"),
    [(0.97, "store_primary", "store_backup"), (0.5, "store_backup", "store_primary")],
)
async def test_example_1_branches_on_quality(
    make_stack: StackFactory, quality: float, stored: str, skipped: str
) -> None:
    stack = await make_stack()
    stack.registry.update(example_registry())
    stack.start()
    spec = await stack.workflow(load_example("data-pipeline.yaml"))
    state = await stack.run(spec.id, {"quality": quality})
    assert state.status == "completed"
    assert state.nodes[stored].status == "completed"
    assert state.nodes[skipped].status == "skipped"
    assert state.nodes["notify"].status == "completed"
    # Data flows across the decision: notify received what the chosen store returned.
    assert state.nodes["notify"].input == state.nodes[stored].output


async def test_example_2_saga_compensates_in_reverse_order(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    stack.registry.update(example_registry())
    stack.start()
    spec = await stack.workflow(load_example("order-processing.yaml"))
    state = await stack.run(spec.id, {"fail_at": "ship_order"})
    assert state.status == "compensated"
    assert state.nodes["ship_order"].status == "failed"
    assert state.nodes["reserve_inventory"].status == "compensated"
    assert state.nodes["charge_payment"].status == "compensated"
    assert state.nodes["cancel_shipment"].status != "completed"
    order = [e.node for e in await stack.events(state.run_id) if e.type == "node_compensated"]
    assert order == ["charge_payment", "reserve_inventory"]


async def test_example_2_without_failure_completes(make_stack: StackFactory) -> None:
    stack = await make_stack()
    stack.registry.update(example_registry())
    stack.start()
    spec = await stack.workflow(load_example("order-processing.yaml"))
    state = await stack.run(spec.id)
    assert state.status == "completed"
    assert [
        state.nodes[n].status for n in ("reserve_inventory", "charge_payment", "ship_order")
    ] == ["completed"] * 3


async def test_a_finished_run_leaves_no_deadline_timer_behind(make_stack: StackFactory) -> None:
    stack = await make_stack()
    stack.registry.update(example_registry())
    stack.start()
    spec = await stack.workflow(load_example("order-processing.yaml"))
    started = await stack.service.start(spec.id)
    shard = stack.keys.shard_of(started.run_id)
    members: Any = await stack.redis.zrange(stack.keys.timers(shard), 0, -1)
    assert any(started.run_id.encode() in m for m in members), "an active run has a deadline"
    assert (await stack.wait(started.run_id)).status == "completed"
    members = await stack.redis.zrange(stack.keys.timers(shard), 0, -1)
    assert not any(started.run_id.encode() in m for m in members)


CHAIN = """
name: chain
nodes:
  - {id: a, type: task, handler: flaky, retries: 3,
     retry_policy: {backoff: fixed, initial_interval: 10ms}}
  - {id: b, type: task, handler: echo}
edges: [{source: a, target: b}]
"""


async def test_retries_until_success_and_counts_attempts(make_stack: StackFactory) -> None:
    stack = await make_stack()
    calls: Counter[int] = Counter()

    @stack.handler("flaky")
    def flaky(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        calls[ctx.attempt] += 1
        if ctx.attempt < 3:
            raise RuntimeError(f"boom {ctx.attempt}")
        return {"attempt": ctx.attempt}

    @stack.handler("echo")
    def echo(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return dict(data)

    stack.start()
    spec = await stack.workflow(CHAIN)
    state = await stack.run(spec.id)
    assert state.status == "completed"
    assert state.nodes["a"].attempts == 3
    assert dict(calls) == {1: 1, 2: 1, 3: 1}
    assert state.nodes["b"].output == {"attempt": 3}
    retrying = [e for e in await stack.events(state.run_id) if e.type == "node_retrying"]
    assert [e.data["error"] for e in retrying] == ["boom 1", "boom 2"]


async def test_last_attempt_failure_fails_run_and_cancels_the_rest(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()

    @stack.handler("flaky")
    def always(data: dict[str, Any], ctx: HandlerContext) -> None:
        raise ValueError("bad input")

    @stack.handler("echo")
    def echo(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return dict(data)

    stack.start()
    spec = await stack.workflow(CHAIN)
    state = await stack.run(spec.id)
    assert state.status == "failed"
    assert state.nodes["a"].status == "failed"
    assert state.nodes["a"].attempts == 4
    assert state.nodes["a"].last_error == "bad input"
    assert state.nodes["b"].status == "cancelled"
    assert state.error is not None and "bad input" in state.error


TIMEOUT = """
name: timeouts
nodes:
  - {id: slow, type: task, handler: slow, timeout: 200ms, retries: 1,
     retry_policy: {backoff: fixed, initial_interval: 10ms}}
edges: []
"""


async def test_timeout_fails_the_attempt(make_stack: StackFactory) -> None:
    stack = await make_stack()

    @stack.handler("slow")
    async def slow(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {}

    stack.start()
    spec = await stack.workflow(TIMEOUT)
    state = await stack.run(spec.id)
    assert state.status == "failed"
    assert state.nodes["slow"].attempts == 2
    assert "timed out" in (state.nodes["slow"].last_error or "")


DELAY = """
name: delayed
nodes:
  - {id: first, type: task, handler: echo, input: {x: 1}}
  - {id: pause, type: delay, duration: 300ms}
  - {id: last, type: task, handler: echo}
edges: [{source: first, target: pause}, {source: pause, target: last}]
"""


async def test_delay_node_waits_on_a_redis_timer_and_passes_data(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()

    @stack.handler("echo")
    def echo(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return dict(data)

    stack.start()
    spec = await stack.workflow(DELAY)
    started = await stack.service.start(spec.id)
    await stack.until(
        lambda: _status_is(stack, started.run_id, "pause", "waiting"),
    )
    timers = await stack.redis.zcard(stack.keys.timers(0))
    assert timers >= 1  # the wait lives in Redis, not in a process
    state = await stack.wait(started.run_id)
    assert state.status == "completed"
    assert state.nodes["last"].output == {"x": 1}
    pause = state.nodes["pause"]
    assert pause.end_ms is not None and pause.start_ms is not None
    assert pause.end_ms - pause.start_ms >= 300


async def _status_is(stack: Stack, run_id: str, node: str, status: str) -> bool:
    state = await stack.service.get(run_id)
    return state.nodes[node].status == status


BLOCKING = """
name: blocking
nodes:
  - {id: hold, type: task, handler: hold}
  - {id: after, type: task, handler: echo}
edges: [{source: hold, target: after}]
"""


async def test_cancel_stops_dispatch_and_ignores_late_results(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    release = threading.Event()

    @stack.handler("hold")
    def hold(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        release.wait(10)
        return {"late": True}

    @stack.handler("echo")
    def echo(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return dict(data)

    stack.start()
    spec = await stack.workflow(BLOCKING)
    run = await stack.service.start(spec.id)
    await stack.until(lambda: _status_is(stack, run.run_id, "hold", "running"))
    cancelled = await stack.service.cancel(run.run_id)
    assert cancelled.status == "cancelled"
    with pytest.raises(Conflict):
        await stack.service.cancel(run.run_id)
    release.set()
    # The late result reaches the inbox and is ignored: nothing after it is dispatched.
    await stack.until(lambda: _inbox_has(stack, "succeeded"))
    await stack.until(lambda: _inbox_applied(stack))
    state = await stack.service.get(run.run_id)
    assert state.status == "cancelled"
    assert state.nodes["hold"].status == "cancelled"
    assert state.nodes["after"].status == "cancelled"
    assert not any(e.type == "node_completed" for e in await stack.events(run.run_id))


async def _inbox_applied(stack: Stack) -> bool:
    """The orchestrator has read and acknowledged every inbox entry so far."""
    inbox = stack.keys.inbox(0)
    last: Any = await stack.redis.xrevrange(inbox, count=1)
    groups: Any = await stack.redis.xinfo_groups(inbox)
    (group,) = [g for g in groups if g["name"] in (ORCH_GROUP, ORCH_GROUP.encode())]
    delivered = group["last-delivered-id"]
    return bool(last) and group["pending"] == 0 and delivered == last[0][0]


async def _inbox_has(stack: Stack, kind: str) -> bool:
    entries: Any = await stack.redis.xrange(stack.keys.inbox(0))
    return any(InboxMessage.decode(f[b"d"]).type == kind for _, f in entries)


async def test_retry_run_keeps_completed_outputs(make_stack: StackFactory) -> None:
    stack = await make_stack()
    broken = {"yes": True}
    calls: Counter[str] = Counter()

    @stack.handler("flaky")
    def flaky(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        calls["a"] += 1
        return {"from_a": calls["a"]}

    @stack.handler("echo")
    def echo(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        calls["b"] += 1
        if broken["yes"]:
            raise RuntimeError("downstream broken")
        return dict(data)

    stack.start()
    spec = await stack.workflow(
        {
            "name": "retryable",
            "nodes": [
                {"id": "a", "type": "task", "handler": "flaky"},
                {"id": "b", "type": "task", "handler": "echo", "retries": 0},
            ],
            "edges": [{"source": "a", "target": "b"}],
        }
    )
    first = await stack.run(spec.id)
    assert first.status == "failed"
    broken["yes"] = False
    await stack.service.retry(first.run_id)
    again = await stack.wait(first.run_id)
    assert again.status == "completed"
    assert calls["a"] == 1  # not run again: its output was kept
    assert again.nodes["b"].output == {"from_a": 1}


async def test_duplicate_result_is_applied_once(make_stack: StackFactory) -> None:
    stack = await make_stack()

    @stack.handler("echo")
    def echo(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"n": 1}

    stack.start()
    spec = await stack.workflow(
        {"name": "dup", "nodes": [{"id": "only", "type": "task", "handler": "echo"}]}
    )
    state = await stack.run(spec.id)
    token = state.nodes["only"].token
    assert token is not None
    dup = InboxMessage("succeeded", state.run_id, 0, node="only", token=token, output={"n": 2})
    await stack.redis.xadd(stack.keys.inbox(0), {"d": dup.encode()})
    await stack.until(lambda: _inbox_drained(stack))
    after = await stack.service.get(state.run_id)
    assert after.nodes["only"].output == {"n": 1}
    completed = [e for e in await stack.events(state.run_id) if e.type == "node_completed"]
    assert len(completed) == 1


async def _inbox_drained(stack: Stack) -> bool:
    groups = await stack.redis.xinfo_groups(stack.keys.inbox(0))
    return all(int(g["pending"]) == 0 and int(g.get("lag") or 0) == 0 for g in groups)


PARAMS = """
name: params
parameters:
  count: {type: integer, required: true}
  mode: {type: string, enum: [fast, slow], default: fast}
nodes:
  - {id: only, type: task, handler: echo}
"""


async def test_bad_parameters_are_refused_before_anything_is_queued(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    spec = await stack.workflow(PARAMS)
    with pytest.raises(ParameterError) as err:
        await stack.service.start(spec.id, {"mode": "medium"})
    assert "count" in err.value.message and "medium" in err.value.message
    ids, total = await stack.service.runs.run_ids()
    assert total == 0 and ids == []
    assert await stack.redis.exists(stack.keys.queue(0, "normal", "echo")) == 0


async def test_max_concurrent_runs_is_enforced(make_stack: StackFactory) -> None:
    stack = await make_stack()
    stack.settings.workflow.execution.max_concurrent_runs = 2
    spec = await stack.workflow(BLOCKING)  # no worker: runs stay active
    await stack.service.start(spec.id)
    await stack.service.start(spec.id)
    with pytest.raises(LimitExceeded):
        await stack.service.start(spec.id)


async def test_run_exceeding_its_maximum_duration_fails(make_stack: StackFactory) -> None:
    stack = await make_stack()
    release = threading.Event()

    @stack.handler("hold")
    def hold(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        release.wait(10)
        return {}

    stack.start()
    spec = await stack.workflow(
        {
            "name": "bounded",
            "config": {"max_execution_time": "300ms"},
            "nodes": [{"id": "hold", "type": "task", "handler": "hold"}],
        }
    )
    state = await stack.run(spec.id)
    release.set()
    assert state.status == "failed"
    assert state.error is not None and "maximum duration" in state.error
    assert state.nodes["hold"].status == "cancelled"


async def test_run_state_says_when_no_live_worker_offers_a_handler(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    stack.start(workers=0)
    spec = await stack.workflow(
        {"name": "orphan", "nodes": [{"id": "only", "type": "task", "handler": "nobodyHasIt"}]}
    )
    run = await stack.service.start(spec.id)
    view = await stack.service.view(run.run_id)
    assert view["status"] == "running"
    assert view["nodes"]["only"]["status"] == "queued"
    assert "no live worker offers handler 'nobodyHasIt'" in view["nodes"]["only"]["waitingFor"]


DIAMOND = {
    "name": "diamond",
    "nodes": [
        {"id": "start", "type": "task", "handler": "noop"},
        *({"id": f"b{i}", "type": "task", "handler": "noop"} for i in range(4)),
        {"id": "join", "type": "task", "handler": "noop"},
        *({"id": f"c{i}", "type": "task", "handler": "noop"} for i in range(4)),
    ],
    "edges": [
        *({"source": "start", "target": f"b{i}"} for i in range(4)),
        *({"source": f"b{i}", "target": "join"} for i in range(4)),
        {"source": "join", "target": "c0"},
        *({"source": f"c{i}", "target": f"c{i + 1}"} for i in range(3)),
    ],
}


async def test_many_runs_with_several_orchestrators_and_workers(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    executions: Counter[tuple[str, str]] = Counter()

    @stack.handler("noop")
    def noop(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        executions[(ctx.run_id, ctx.node_id)] += 1
        return {ctx.node_id: True}

    stack.settings.workflow.execution.max_concurrent_runs = 1000
    stack.start(orchestrators=3, workers=2, concurrency=32)
    spec = await stack.workflow(DIAMOND)
    runs = [await stack.service.start(spec.id) for _ in range(200)]
    finals = await asyncio.gather(*(stack.wait(r.run_id, 120) for r in runs))
    assert all(s.status == "completed" for s in finals)
    assert len(executions) == 200 * 10
    for final in finals:  # every result applied exactly once, whatever was redelivered
        completed = Counter(
            e.node for e in await stack.events(final.run_id) if e.type == "node_completed"
        )
        assert set(completed.values()) == {1} and len(completed) == 10
    join_inputs = {tuple(sorted(s.nodes["join"].input or {})) for s in finals}
    assert join_inputs == {("b0", "b1", "b2", "b3")}  # direct predecessors only


async def test_a_poison_job_is_dead_lettered_shown_on_the_run_and_requeued(
    make_stack: StackFactory,
) -> None:
    from orchestrator.store.queue import JobQueue

    stack = await make_stack(visibility_timeout=0.3, max_deliveries=1)

    @stack.handler("echo")
    def echo(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"ok": True}

    spec = await stack.workflow(
        {"name": "poison", "nodes": [{"id": "only", "type": "task", "handler": "echo"}]}
    )
    run = await stack.service.start(spec.id)
    queue = JobQueue(stack.redis, stack.keys, stack.settings)
    # A consumer that takes the job and "crashes": it never acknowledges it.
    taken = await queue.read(["echo"], "crashed-worker", 1)
    assert [d.job.node for d in taken] == ["only"]
    stack.start()  # the live worker's reclaim finds it worn out: dead letter

    async def dead_lettered() -> bool:
        view = await stack.service.view(run.run_id)
        return "deadLetter" in view["nodes"]["only"]

    await stack.until(dead_lettered)
    view = await stack.service.view(run.run_id)
    assert view["status"] == "running"
    assert "dead-lettered after 1 deliveries" in view["nodes"]["only"]["waitingFor"]
    letter_id = view["nodes"]["only"]["deadLetter"]["id"]
    assert await queue.requeue_dead([letter_id]) == 1
    final = await stack.wait(run.run_id)
    assert final.status == "completed"
    assert final.nodes["only"].output == {"ok": True}


async def test_a_workflow_version_is_validated_once_for_many_starts(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.service import runs as runs_module

    stack = await make_stack()
    calls: list[str] = []
    validate = getattr(runs_module, "validate_spec")  # noqa: B009 - patched below

    def counting(spec: Any, **kwargs: Any) -> Any:
        calls.append(spec.id)
        return validate(spec, **kwargs)

    monkeypatch.setattr(runs_module, "validate_spec", counting)
    spec = await stack.workflow(DIAMOND)
    for _ in range(3):
        await stack.service.start(spec.id)
    assert calls == [spec.id]
