"""Failure and saga compensation."""

from __future__ import annotations

from itertools import permutations
from typing import Any

import pytest

from .helpers import Run, dispatched, dispatched_nodes, edge, emitted, finished, task


def comp(node_id: str, **extra: Any) -> dict[str, Any]:
    """A compensation node whose handler is named after it."""
    return {"id": node_id, "type": "compensation", "handler": f"h_{node_id}", **extra}


def test_a_node_failing_its_last_attempt_fails_the_run_and_never_run_nodes_end_cancelled() -> None:
    run = Run(
        {
            "nodes": [task("a", retries=1), task("b"), task("c"), task("side")],
            "edges": [edge("a", "b"), edge("b", "c")],
        }
    )
    assert dispatched_nodes(run.last) == ["a", "side"]
    run.fail("a", "first")
    assert run.run_status() == "running"
    run.fire("a")
    cmds = run.fail("a", "disk full")
    assert run.run_status() == "failed"
    assert run.state.error_node == "a"
    assert "disk full" in (run.state.error or "") and "a" in (run.state.error or "")
    assert run.state.end_ms == run.now
    assert run.statuses() == {
        "a": "failed",
        "b": "cancelled",
        "c": "cancelled",
        "side": "cancelled",
    }
    assert run.node("a").last_error == "disk full"
    assert emitted(cmds) == ["node_failed", *["node_cancelled"] * 3, "run_failed"]
    assert finished(cmds) == ["failed"]
    assert dispatched(cmds) == []


def test_a_node_already_running_when_the_run_fails_finishes_and_is_recorded() -> None:
    run = Run(
        {
            "nodes": [task("x", retries=0), task("y"), task("after")],
            "edges": [edge("y", "after")],
        }
    )
    run.begin("y")
    run.fail("x")
    assert run.run_status() == "failed"
    assert run.status("y") == "running"  # it ran; its result is still wanted for the record
    cmds = run.succeed("y", {"done": 1})
    assert run.status("y") == "completed"
    assert run.node("y").output == {"done": 1}
    assert run.status("after") == "cancelled"
    assert dispatched(cmds) == []
    assert finished(cmds) == []  # the run had already ended
    assert run.run_status() == "failed"


def _saga(*, link: str = "task", fail_retries: int = 0) -> dict[str, Any]:
    """Three tasks in a chain, each with a compensation; ``link`` says which side names it."""
    tasks = ["reserve", "charge", "ship"]
    nodes: list[dict[str, Any]] = []
    for name in tasks:
        extra = {"compensation": f"undo_{name}"} if link == "task" else {}
        retries = {"retries": fail_retries} if name == "ship" else {}
        nodes.append(task(name, **extra, **retries))
    for name in tasks:
        extra = {"compensates": name} if link == "compensation" else {}
        nodes.append(comp(f"undo_{name}", **extra))
    return {
        "nodes": nodes,
        "edges": [edge("reserve", "charge"), edge("charge", "ship")],
        "compensation_strategy": "saga",
    }


@pytest.mark.parametrize("link", ["task", "compensation"])
def test_saga_compensates_completed_tasks_in_reverse_completion_order_one_at_a_time(
    link: str,
) -> None:
    run = Run(_saga(link=link))
    run.succeed("reserve", {"reservation": "R1"})
    run.succeed("charge", {"payment": "P1"})
    cmds = run.fail("ship", "carrier down")
    assert run.run_status() == "compensating"
    assert run.status("ship") == "failed"
    assert "run_compensating" in emitted(cmds)
    assert "compensation_started" in emitted(cmds)
    [job] = dispatched(cmds)
    assert (job.node, job.kind, job.handler) == ("undo_charge", "compensation", "h_undo_charge")
    assert job.input == {"payment": "P1"}  # the compensated task's output
    assert run.status("charge") == "compensating"
    assert run.status("reserve") == "completed"  # one at a time

    cmds = run.succeed("undo_charge")
    assert run.status("charge") == "compensated"
    assert "node_compensated" in emitted(cmds)
    [job] = dispatched(cmds)
    assert job.node == "undo_reserve"
    assert job.input == {"reservation": "R1"}

    cmds = run.succeed("undo_reserve")
    assert run.status("reserve") == "compensated"
    assert run.run_status() == "compensated"
    assert finished(cmds) == ["compensated"]
    assert run.status("undo_ship") == "skipped"  # never needed: ship did not complete
    assert run.state.error is not None and "carrier down" in run.state.error


@pytest.mark.parametrize("order", list(permutations(["x", "y", "z"])))
def test_compensation_order_is_the_reverse_of_completion_not_of_listing(
    order: tuple[str, ...],
) -> None:
    run = Run(
        {
            "nodes": [
                {"id": "fork", "type": "parallel"},
                *(task(n, compensation=f"undo_{n}") for n in ("x", "y", "z")),
                task("fails", retries=0),
                *(comp(f"undo_{n}") for n in ("x", "y", "z")),
            ],
            "edges": [edge("fork", n) for n in ("x", "y", "z")]
            + [edge(n, "fails") for n in ("x", "y", "z")],
            "compensation_strategy": "saga",
        }
    )
    for node in order:
        run.succeed(node)
    run.fail("fails")
    compensated = []
    while run.run_status() == "compensating":
        [job] = [j for j in dispatched(run.last) if j.kind == "compensation"]
        compensated.append(job.node.removeprefix("undo_"))
        run.succeed(job.node)
    assert compensated == list(reversed(order))
    assert run.run_status() == "compensated"


def test_saga_waits_for_in_flight_nodes_before_compensating() -> None:
    run = Run(
        {
            "nodes": [
                task("slow", compensation="undo_slow"),
                task("quick", compensation="undo_quick"),
                task("bad", retries=0),
                comp("undo_slow"),
                comp("undo_quick"),
            ],
            "edges": [edge("quick", "bad")],
            "compensation_strategy": "saga",
        }
    )
    run.begin("slow")
    run.succeed("quick")
    cmds = run.fail("bad")
    assert run.run_status() == "compensating"
    assert dispatched(cmds) == []  # slow is still running
    assert run.status("slow") == "running"
    cmds = run.succeed("slow")  # it finished after the failure: it must be undone too, first
    assert dispatched_nodes(cmds) == ["undo_slow"]
    run.succeed("undo_slow")
    assert dispatched_nodes(run.last) == ["undo_quick"]
    run.succeed("undo_quick")
    assert run.run_status() == "compensated"
    assert run.status("slow") == "compensated"


def test_an_in_flight_node_that_fails_late_is_not_compensated() -> None:
    run = Run(
        {
            "nodes": [
                task("a", compensation="undo_a"),
                task("slow", compensation="undo_slow", retries=3),
                task("bad", retries=0),
                comp("undo_a"),
                comp("undo_slow"),
            ],
            "edges": [edge("a", "bad")],
            "compensation_strategy": "saga",
        }
    )
    run.begin("slow")
    run.succeed("a")
    run.fail("bad")
    cmds = run.fail("slow")  # no retry: the run is no longer running
    assert run.status("slow") == "failed"
    assert dispatched_nodes(cmds) == ["undo_a"]
    run.succeed("undo_a")
    assert run.run_status() == "compensated"


def test_tasks_without_a_compensation_stay_completed() -> None:
    run = Run(
        {
            "nodes": [
                task("a", compensation="undo_a"),
                task("plain"),
                task("bad", retries=0),
                comp("undo_a"),
            ],
            "compensation_strategy": "saga",
        }
    )
    run.succeed("a")
    run.succeed("plain")
    run.fail("bad")
    assert dispatched_nodes(run.last) == ["undo_a"]
    run.succeed("undo_a")
    assert run.statuses() == {
        "a": "compensated",
        "plain": "completed",
        "bad": "failed",
        "undo_a": "completed",
    }
    assert run.run_status() == "compensated"


def test_a_compensation_is_retried_before_it_counts_as_failed() -> None:
    run = Run(_saga())
    run.succeed("reserve")
    run.succeed("charge")
    run.fail("ship")
    run.fail("undo_charge", "refund api down")
    assert run.status("undo_charge") == "waiting"
    assert run.run_status() == "compensating"
    cmds = run.fire("undo_charge")
    assert [(j.node, j.attempt, j.kind) for j in dispatched(cmds)] == [
        ("undo_charge", 2, "compensation")
    ]
    run.succeed("undo_charge")
    assert run.status("charge") == "compensated"


def test_a_compensation_failing_after_its_retries_fails_the_run_but_the_others_still_run() -> None:
    run = Run(_saga())
    run.succeed("reserve")
    run.succeed("charge")
    run.fail("ship")
    cmds = run.fail_for_good("undo_charge", "refund api down")
    assert run.node("undo_charge").attempts == 3  # configured default: 3 attempts
    assert run.status("undo_charge") == "failed"
    assert run.status("charge") == "completed"  # not undone
    assert "compensation_failed" in emitted(cmds)
    assert dispatched_nodes(cmds) == ["undo_reserve"]  # best effort: go on
    cmds = run.succeed("undo_reserve")
    assert run.status("reserve") == "compensated"
    assert run.run_status() == "failed"
    assert finished(cmds) == ["failed"]
    assert "compensation failed" in (run.state.error or "")


def test_a_saga_with_nothing_to_undo_ends_compensated_at_once() -> None:
    run = Run(_saga())
    cmds = run.fail_for_good("reserve")
    assert run.run_status() == "compensated"
    assert finished(cmds) == ["compensated"]
    assert {run.status(n) for n in ("charge", "ship")} == {"cancelled"}


def test_a_completed_saga_run_skips_its_unused_compensations() -> None:
    run = Run(_saga())
    for node in ("reserve", "charge", "ship"):
        cmds = run.succeed(node)
    assert finished(cmds) == ["completed"]
    assert {run.status(f"undo_{n}") for n in ("reserve", "charge", "ship")} == {"skipped"}
