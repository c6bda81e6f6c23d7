"""Every status change has its event: a reader of the stream alone knows each node's status.

The monitor and ``dagq runs watch`` fold ``implied_changes`` over the events; these
tests name the changes that used to be silent (a cancel's stopped nodes, compensations
a run never needed, the nodes a retry resets, a retry waiting for a slot).  The
property over random runs is in ``test_replay.py`` (``check_events_alone``).
"""

from __future__ import annotations

from typing import Any

from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import RetryRequested
from orchestrator.vocab import NodeStatus, RunStatus, implied_changes

from .helpers import Run, edge, emits, emitted, emitted_for, task


def folded(run: Run) -> dict[str, str]:
    """Every node's status as the run's events alone tell it."""
    nodes: dict[str, str] = dict.fromkeys(run.graph.order, NodeStatus.PENDING)
    for event in emits(run.history):
        nodes.update(implied_changes(event.type, event.node, event.data)[1])
    return nodes


def _saga() -> dict[str, Any]:
    return {
        "nodes": [
            task("a", compensation="undo_a"),
            task("b", compensation="undo_b"),
            {"id": "undo_a", "type": "compensation", "handler": "u"},
            {"id": "undo_b", "type": "compensation", "handler": "u"},
        ],
        "edges": [edge("a", "b")],
        "compensation_strategy": "saga",
    }


def test_a_cancel_emits_node_cancelled_for_each_unfinished_node() -> None:
    run = Run(
        {"nodes": [task("a"), task("b"), task("c"), task("d")], "edges": [edge("a", "c")]},
        config=EngineConfig(max_parallel=2),
    )
    run.succeed("a")
    run.begin("b")
    assert run.statuses() == {"a": "completed", "b": "running", "c": "queued", "d": "pending"}
    cmds = run.cancel()
    assert [(e.type, e.node, e.data.get("was")) for e in emits(cmds)] == [
        ("node_cancelled", "b", "running"),
        ("node_cancelled", "c", "queued"),
        ("node_cancelled", "d", "pending"),  # it waited for a slot
        ("run_cancelled", None, None),
    ]
    assert folded(run) == run.statuses()


def test_a_completed_run_skips_its_unneeded_compensations_with_events() -> None:
    run = Run(_saga())
    run.succeed("a")
    cmds = run.succeed("b")
    assert run.run_status() == RunStatus.COMPLETED
    skipped = [(e.node, e.data.get("reason")) for e in emits(cmds) if e.type == "node_skipped"]
    assert skipped == [("undo_a", "not needed: nothing to undo"), ("undo_b", skipped[1][1])]
    assert emitted(cmds)[-1] == "run_completed"
    assert folded(run) == run.statuses()


def test_a_compensated_saga_skips_the_compensations_it_did_not_run_with_events() -> None:
    run = Run(_saga())
    run.succeed("a")
    run.fail_for_good("b")
    [job] = [c for c in emits(run.last) if c.type == "node_queued"]
    assert job.node == "undo_a"
    cmds = run.succeed("undo_a")
    assert run.run_status() == RunStatus.COMPENSATED
    assert emitted_for(cmds, "undo_b") == ["node_skipped"]
    assert run.status("undo_b") == "skipped"
    assert folded(run) == run.statuses()


def test_run_retried_names_each_node_it_resets_and_its_new_status() -> None:
    run = Run(
        {
            "nodes": [task("a"), task("b", retries=0), task("c"), task("d"), task("side")],
            "edges": [edge("a", "b"), edge("b", "c"), edge("c", "d")],
        }
    )
    run.succeed("a")
    run.succeed("side")
    run.fail("b")
    assert run.statuses()["c"] == "cancelled"
    cmds = run.send(RetryRequested(run.tick(), skip_nodes=("c",)))
    retried = emits(cmds)[0]
    assert retried.type == "run_retried"
    # b, c and d are reset (c to skipped, on request); a and side keep their results.
    assert retried.data["reset"] == {"b": "pending", "c": "skipped", "d": "pending"}
    # The skip's own event follows the run's, so a reader applying them in order ends right.
    assert emitted(cmds)[:3] == ["run_retried", "node_skipped", "node_queued"]
    assert folded(run) == run.statuses()


def test_a_retry_from_a_node_resets_its_completed_successors() -> None:
    run = Run(
        {"nodes": [task("a"), task("b"), task("c")], "edges": [edge("a", "b"), edge("b", "c")]}
    )
    run.succeed("a")
    run.succeed("b")
    run.fail_for_good("c")
    cmds = run.retry("a")
    assert emits(cmds)[0].data["reset"] == {"a": "pending", "b": "pending", "c": "pending"}
    assert run.statuses() == {"a": "queued", "b": "pending", "c": "pending"}
    assert folded(run) == run.statuses()


def test_a_retry_due_without_a_free_slot_says_the_node_waits_for_one() -> None:
    run = Run(
        {
            "nodes": [task("a", retries=1), task("b"), {"id": "j", "type": "parallel"}],
            "edges": [edge("a", "j"), edge("b", "j")],
        },
        config=EngineConfig(max_parallel=1),
    )
    run.fail("a")  # a backs off; its slot goes to b
    assert run.statuses() == {"a": "waiting", "b": "queued", "j": "pending"}
    cmds = run.fire("a")
    assert [(e.type, e.node, e.data) for e in emits(cmds)] == [("node_ready", "a", {"attempt": 2})]
    assert run.status("a") == "pending"  # first in line
    assert folded(run) == run.statuses()
    run.succeed("b")
    assert run.status("a") == "queued"
    assert folded(run) == run.statuses()
