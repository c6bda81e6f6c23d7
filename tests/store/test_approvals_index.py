"""The approvals index's change per write: a decided approval goes, one still waiting stays,
and a run that ends (or a state that lacks a node) takes its waiting nodes with it."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.engine.events import Decided
from orchestrator.engine.state import NodeState, RunState
from orchestrator.store.approvals_index import approval_member, approvals_changed
from orchestrator.vocab import NodeStatus, RunStatus
from tests.engine.helpers import Run, edge, task


def _two_approvals() -> Run:
    approval = {"type": "approval", "message": "go?"}
    return Run(
        {
            "nodes": [task("a"), {"id": "ok1", **approval}, {"id": "ok2", **approval}],
            "edges": [edge("a", "ok1"), edge("a", "ok2")],
        }
    )


def test_a_decided_approval_goes_and_the_other_one_waiting_stays() -> None:
    run = _two_approvals()
    run.succeed("a")
    old = run.state
    assert run.status("ok1") == run.status("ok2") == "waiting"
    run.send(Decided("ok1", run.tick(), "alice", "workflow_operator", True, ""))
    new = run.state
    assert run.status("ok1") == "completed" and run.status("ok2") == "waiting"
    # What the index relies on: the engine copied the node it changed, not the other one.
    assert new.nodes["ok2"] is old.nodes["ok2"]
    assert new.nodes["ok1"] is not old.nodes["ok1"]
    result = approvals_changed(old, new, [], finished=False)
    assert result == ([], [approval_member("r1", "ok1")])


def test_a_run_that_ends_removes_every_waiting_node_changed_or_not() -> None:
    run = _two_approvals()
    run.succeed("a")
    old = run.state
    run.cancel()
    assert run.run_status() == "cancelled"
    _, done = approvals_changed(old, run.state, [], finished=True)
    assert sorted(done) == [approval_member("r1", "ok1"), approval_member("r1", "ok2")]


def _state(nodes: Mapping[str, NodeState]) -> RunState:
    return RunState(
        run_id="r1",
        workflow_id="wf",
        workflow_version=1,
        status=RunStatus.RUNNING,
        start_ms=1_700_000_000_000,
        nodes=dict(nodes),
    )


def test_a_waiting_node_the_new_state_lacks_goes() -> None:
    """The engine never drops a node; were a state to lack one, its approval still goes."""
    old = _state({"a": NodeState(status=NodeStatus.WAITING), "b": NodeState()})
    new = _state({"b": old.nodes["b"]})
    _, done = approvals_changed(old, new, [], finished=False)
    assert done == [approval_member("r1", "a")]
