"""Run lifecycle: cancel, deadline, retry of a finished run, parallelism limits, edgeless specs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.engine.commands import Reopened, StartDeadline
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import CancelRequested, RetryRequested
from orchestrator.engine.transitions import apply
from orchestrator.errors import Conflict, NotFound
from orchestrator.vocab import IN_FLIGHT, RunStatus

from .helpers import Run, dispatched, dispatched_nodes, edge, emits, emitted, finished, task

# --- cancel -----------------------------------------------------------------------------


def _cancel_spec() -> dict[str, Any]:
    return {
        "nodes": [
            task("a", retries=2),
            task("b"),
            {"id": "wait", "type": "delay", "duration": "1h"},
            task("c"),
        ],
        "edges": [edge("a", "c"), edge("b", "c")],
    }


def queued(run: Run) -> None:
    """a and b still queued."""


def running(run: Run) -> None:
    run.begin("a")


def backing_off(run: Run) -> None:
    run.fail("a")


def one_done(run: Run) -> None:
    run.succeed("b")


@pytest.mark.parametrize("setup", [queued, running, backing_off, one_done])
def test_cancel_stops_every_unfinished_node_and_ends_the_run(setup: Callable[[Run], None]) -> None:
    run = Run(_cancel_spec())
    setup(run)
    before = run.statuses()
    cmds = run.cancel()
    assert run.run_status() == "cancelled"
    assert run.state.end_ms == run.now
    assert finished(cmds) == ["cancelled"]
    stopped = [n for n, status in before.items() if status != "completed"]
    # One node_cancelled per node it stopped (what it was doing in ``was``), then the run's.
    assert emitted(cmds) == [*["node_cancelled"] * len(stopped), "run_cancelled"]
    assert [(e.node, e.data["was"]) for e in emits(cmds)[:-1]] == [(n, before[n]) for n in stopped]
    assert dispatched(cmds) == []
    for node, status in before.items():
        expected = "completed" if status == "completed" else "cancelled"
        assert run.status(node) == expected


def test_a_pending_run_can_be_cancelled() -> None:
    run = Run(_cancel_spec())
    pending = replace(run.state, status=RunStatus.PENDING)
    state, cmds = apply(
        run.graph, pending, CancelRequested(run.now, reason="changed my mind"), run.cfg
    )
    assert state.status == "cancelled"
    assert state.error == "changed my mind"
    assert finished(cmds) == ["cancelled"]


def _finish(run: Run, how: str) -> None:
    if how == "completed":
        for node in ("a", "b"):
            run.succeed(node)
        run.fire("wait")
        run.succeed("c")
    elif how == "failed":
        run.fail_for_good("a")
    elif how == "cancelled":
        run.cancel()


@pytest.mark.parametrize("how", ["completed", "failed", "cancelled"])
def test_cancelling_a_finished_run_is_a_conflict(how: str) -> None:
    run = Run(_cancel_spec())
    _finish(run, how)
    assert run.run_status() == how
    with pytest.raises(Conflict, match=f"is {how}"):
        run.cancel()


def test_cancelling_a_compensating_run_is_a_conflict() -> None:
    run = Run(
        {
            "nodes": [
                task("a", compensation="undo"),
                task("b", retries=0),
                {"id": "undo", "type": "compensation", "handler": "u"},
            ],
            "compensation_strategy": "saga",
        }
    )
    run.succeed("a")
    run.fail("b")
    assert run.run_status() == "compensating"
    with pytest.raises(Conflict) as info:
        run.cancel()
    assert info.value.code == "CONFLICT"


def test_cancel_drops_nodes_waiting_for_a_parallelism_slot() -> None:
    run = Run(
        {"nodes": [task("a"), task("b"), task("c")], "edges": []},
        config=EngineConfig(max_parallel=1),
    )
    run.cancel()
    assert run.state.ready == ()
    assert set(run.statuses().values()) == {"cancelled"}


# --- deadline ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit_s", "own", "effective_s"),
    [(3600, None, 3600), (3600, "10m", 600), (60, "2h", 60)],
)
def test_the_deadline_is_the_shorter_of_the_limit_and_the_workflows_own(
    limit_s: float, own: str | None, effective_s: float
) -> None:
    spec: dict[str, Any] = {"nodes": [task("a")]}
    if own is not None:
        spec["config"] = {"max_execution_time": own}
    run = Run(spec, config=EngineConfig(max_duration_s=limit_s))
    assert StartDeadline(due_ms=run.now + int(effective_s * 1000)) in run.last
    assert run.state.deadline_ms == run.now + int(effective_s * 1000)


def test_passing_the_deadline_fails_the_run() -> None:
    run = Run(_cancel_spec(), config=EngineConfig(max_duration_s=120))
    run.begin("a")
    cmds = run.deadline()
    assert run.run_status() == "failed"
    assert "maximum duration of 120s" in (run.state.error or "")
    assert finished(cmds) == ["failed"]
    assert run.statuses() == {
        "a": "cancelled",
        "b": "cancelled",
        "wait": "cancelled",
        "c": "cancelled",
    }


def test_passing_the_deadline_of_a_saga_compensates_what_completed() -> None:
    run = Run(
        {
            "nodes": [
                task("a", compensation="undo"),
                task("b"),
                {"id": "undo", "type": "compensation", "handler": "u"},
            ],
            "compensation_strategy": "saga",
        }
    )
    run.succeed("a")
    run.begin("b")
    cmds = run.deadline()
    assert run.run_status() == "compensating"
    assert run.status("b") == "cancelled"
    assert dispatched_nodes(cmds) == ["undo"]
    run.succeed("undo")
    assert run.run_status() == "compensated"


# --- retry of a finished run ------------------------------------------------------------


def _retry_spec() -> dict[str, Any]:
    return {
        "nodes": [task("a"), task("b", retries=0), task("c"), task("side")],
        "edges": [edge("a", "b"), edge("b", "c")],
    }


def test_retrying_a_failed_run_keeps_completed_outputs_and_reruns_the_rest() -> None:
    run = Run(_retry_spec())
    run.succeed("side", {"s": 1})
    old_a_token = run.token("a")
    run.succeed("a", {"x": 1})
    run.fail("b")
    assert run.statuses() == {
        "a": "completed",
        "b": "failed",
        "c": "cancelled",
        "side": "completed",
    }
    cmds = run.retry()
    assert run.run_status() == "running"
    assert run.state.epoch == 1
    assert run.state.error is None and run.state.end_ms is None
    assert Reopened() in cmds
    assert any(isinstance(c, StartDeadline) for c in cmds)
    assert emitted(cmds)[0] == "run_retried"
    [job] = dispatched(cmds)
    assert (job.node, job.attempt, job.token) == ("b", 1, "1.1")
    assert job.input == {"x": 1}  # from a's kept output
    assert run.node("a").token == old_a_token and run.node("a").output == {"x": 1}
    assert run.status("c") == "pending"
    run.succeed("b")
    cmds = run.succeed("c", {"c": 1})
    assert finished(cmds) == ["completed"]
    assert run.state.output == {"c": 1, "s": 1}  # the sinks' outputs


def test_retrying_a_cancelled_run_reruns_the_cancelled_nodes() -> None:
    run = Run(_retry_spec())
    run.succeed("a")
    run.cancel()
    cmds = run.retry()
    assert sorted(dispatched_nodes(cmds)) == ["b", "side"]
    assert run.status("a") == "completed"


def test_retrying_a_compensated_run_runs_the_compensated_tasks_again() -> None:
    run = Run(
        {
            "nodes": [
                task("a", compensation="undo"),
                task("b", retries=0),
                {"id": "undo", "type": "compensation", "handler": "u"},
            ],
            "compensation_strategy": "saga",
        }
    )
    run.succeed("a")
    run.fail("b")
    run.succeed("undo")
    assert run.run_status() == "compensated"
    cmds = run.retry()
    assert dispatched_nodes(cmds) == ["a"]
    assert run.status("undo") == "pending"
    assert run.state.compensation_queue == () and not run.state.compensation_started
    run.succeed("a")
    run.succeed("b")
    assert run.run_status() == "completed"
    assert run.status("undo") == "skipped"


@pytest.mark.parametrize(
    ("only_node", "rerun", "kept"),
    [(False, ["a", "b", "c"], []), (True, ["a"], ["b", "c"])],
)
def test_retrying_from_a_node(only_node: bool, rerun: list[str], kept: list[str]) -> None:
    spec = {
        "nodes": [task("a"), task("b"), task("c"), task("bad", retries=0)],
        "edges": [edge("a", "b"), edge("b", "c")],
    }
    run = Run(spec)
    for node in ("a", "b", "c"):
        run.succeed(node, {node: 1})
    run.fail("bad")
    assert run.run_status() == "failed"
    cmds = run.retry("a", only_node=only_node)
    assert sorted(dispatched_nodes(cmds)) == ["a", "bad"]  # failed nodes always run again
    for node in rerun[1:]:
        assert run.status(node) == "pending"
    for node in kept:
        assert run.status(node) == "completed"
        assert run.node(node).output == {node: 1}
    run.succeed("a", {"a": 2})
    if not only_node:
        assert run.job("b").input == {"a": 2}
        run.succeed("b")
        run.succeed("c")
    cmds = run.succeed("bad")
    assert run.run_status() == "completed"


@pytest.mark.parametrize("from_node", ["nope", "undo"])
def test_retrying_from_an_unknown_or_compensation_node_is_not_found(from_node: str) -> None:
    run = Run(
        {
            "nodes": [
                task("a", compensation="undo", retries=0),
                {"id": "undo", "type": "compensation", "handler": "u"},
            ]
        }
    )
    run.fail("a")
    with pytest.raises(NotFound, match=from_node):
        run.retry(from_node)


@pytest.mark.parametrize("how", ["running", "completed"])
def test_retrying_a_run_that_is_running_or_completed_is_a_conflict(how: str) -> None:
    run = Run({"nodes": [task("a")]})
    if how == "completed":
        run.succeed("a")
    with pytest.raises(Conflict, match=how):
        apply(run.graph, run.state, RetryRequested(run.now), run.cfg)


# --- parallelism ------------------------------------------------------------------------


def _fan_out(n: int, concurrency: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodes": [
            {"id": "fork", "type": "parallel"},
            *(task(f"t{i}", retries=3) for i in range(n)),
        ],
        "edges": [edge("fork", f"t{i}") for i in range(n)],
    }
    if concurrency is not None:
        spec["config"] = {"concurrency_limit": concurrency}
    return spec


def _in_flight(run: Run) -> int:
    return sum(1 for s in run.statuses().values() if s in IN_FLIGHT)


@pytest.mark.parametrize(
    ("max_parallel", "concurrency", "n", "first_wave"),
    [(10, None, 4, 4), (2, None, 5, 2), (10, 3, 5, 3), (2, 8, 5, 2), (1, None, 3, 1)],
)
def test_max_parallel_limits_queued_and_running_nodes_and_the_rest_follow_as_slots_free(
    max_parallel: int, concurrency: int | None, n: int, first_wave: int
) -> None:
    run = Run(_fan_out(n, concurrency), config=EngineConfig(max_parallel=max_parallel))
    assert dispatched_nodes(run.last) == [f"t{i}" for i in range(first_wave)]
    assert run.state.ready == tuple(f"t{i}" for i in range(first_wave, n))
    order = dispatched_nodes(run.last)
    while run.run_status() == "running":
        node = next(nd for nd, s in run.statuses().items() if s == "queued")
        order += dispatched_nodes(run.succeed(node))
        assert _in_flight(run) <= first_wave
    assert order == [f"t{i}" for i in range(n)]  # in order, each once
    assert run.run_status() == "completed"


def test_a_node_backing_off_frees_its_slot_and_waits_for_one_to_retry() -> None:
    limit = 2
    run = Run(_fan_out(4), config=EngineConfig(max_parallel=limit))
    assert dispatched_nodes(run.last) == ["t0", "t1"]
    cmds = run.fail("t0")  # backing off: not in flight
    assert dispatched_nodes(cmds) == ["t2"]
    assert _in_flight(run) == limit
    cmds = run.fire("t0")  # no free slot: t0 waits for one
    assert dispatched(cmds) == []
    assert _in_flight(run) == limit
    cmds = run.succeed("t1")
    assert dispatched_nodes(cmds) == ["t0"]  # the retry goes before t3, which came later
    assert run.job("t0").attempt == 2
    assert _in_flight(run) == limit
    run.succeed("t2")
    run.succeed("t0")
    run.succeed("t3")
    assert run.run_status() == "completed"


# --- a spec without edges --------------------------------------------------------------


def test_a_spec_without_edges_runs_its_nodes_in_listed_order() -> None:
    run = Run(
        {
            "nodes": [
                task("first", compensation="undo_first"),
                {"id": "undo_first", "type": "compensation", "handler": "u"},
                task("second"),
                task("third"),
            ]
        }
    )
    order = dispatched_nodes(run.last)
    while run.run_status() == "running":
        node = order[-1]
        order += dispatched_nodes(run.succeed(node, {node: True}))
    assert order == ["first", "second", "third"]
    assert run.job("third").input == {"second": True}
    assert run.run_status() == "completed"
    assert run.status("undo_first") == "skipped"
