"""The approvals index's change per write looks only at the nodes a transition replaced.

``approvals_changed`` used to compare every node of the old state on every write; it now
takes the nodes ``changed_fields`` found replaced (the engine copies only the nodes it
changes).  These tests hold it to what the full comparison gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.engine.events import Decided
from orchestrator.engine.state import NodeState, RunState
from orchestrator.store.approvals_index import approval_member, approvals_changed
from orchestrator.store.codec import changed_fields
from orchestrator.vocab import NODE_STATUSES, NodeStatus, RunStatus
from tests.engine.helpers import Run, edge, task


def _full_scan(
    old: RunState | None,
    new: RunState,
    requested: list[tuple[int, str]],
    *,
    finished: bool,
) -> tuple[list[Any], list[str]]:
    """The function as it was before it took ``changed``: every node of ``old`` compared."""
    waiting: list[Any] = []
    if not finished:
        for at_ms, node_id in requested:
            now = new.nodes.get(node_id)
            if now is not None and now.status == NodeStatus.WAITING:
                waiting += [at_ms, approval_member(new.run_id, node_id)]
    done: list[str] = []
    if old is not None and (finished or old.nodes is not new.nodes):
        for node_id, before in old.nodes.items():
            if before.status != NodeStatus.WAITING:
                continue
            after = new.nodes.get(node_id)
            if finished or after is None or after.status != NodeStatus.WAITING:
                done.append(approval_member(new.run_id, node_id))
    return waiting, done


def _changed(old: RunState | None, new: RunState) -> list[str]:
    changed: list[str] = []
    changed_fields(old, new, changed)
    return changed


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
    changed = _changed(old, new)
    assert "ok1" in changed and "ok2" not in changed
    result = approvals_changed(old, new, [], finished=False, changed=changed)
    assert result == ([], [approval_member("r1", "ok1")])
    assert result == _full_scan(old, new, [], finished=False)


def test_an_unchanged_waiting_node_is_not_removed_even_when_named_changed() -> None:
    """``changed`` narrows what is looked at; a node named there that still waits stays."""
    run = _two_approvals()
    run.succeed("a")
    old = run.state
    run.send(Decided("ok1", run.tick(), "alice", "workflow_operator", True, ""))
    _, done = approvals_changed(old, run.state, [], finished=False, changed=["ok1", "ok2"])
    assert done == [approval_member("r1", "ok1")]


def test_a_run_that_ends_removes_every_waiting_node_changed_or_not() -> None:
    run = _two_approvals()
    run.succeed("a")
    old = run.state
    run.cancel()
    assert run.run_status() == "cancelled"
    _, done = approvals_changed(old, run.state, [], finished=True, changed=[])
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


_STATUSES = st.sampled_from(NODE_STATUSES)


@st.composite
def _writes(draw: st.DrawFn) -> tuple[RunState | None, RunState, list[tuple[int, str]], bool]:
    """An old state, the new state a transition could make of it (a node it did not
    change is the same object; a changed one a new object, its status the same or not),
    the approvals requested in the write, and whether the run ends."""
    ids = [f"n{i}" for i in range(draw(st.integers(1, 12)))]
    finished = draw(st.booleans())
    requested = [(i, n) for i, n in enumerate(ids) if draw(st.booleans())]
    if draw(st.integers(0, 9)) == 0:  # a run being created
        new = _state({n: NodeState(status=draw(_STATUSES)) for n in ids})
        return None, new, requested, finished
    old = _state({n: NodeState(status=draw(_STATUSES), attempts=1) for n in ids})
    if draw(st.integers(0, 9)) == 0:  # nothing changed: the engine hands the state back
        return old, old, requested, finished
    nodes = dict(old.nodes)
    for n in ids:
        if draw(st.booleans()):
            nodes[n] = NodeState(status=draw(_STATUSES), attempts=2)
    return old, _state(nodes), requested, finished


@settings(max_examples=300, deadline=None)
@given(_writes())
def test_looking_at_the_changed_nodes_gives_what_the_full_scan_gave(
    write: tuple[RunState | None, RunState, list[tuple[int, str]], bool],
) -> None:
    old, new, requested, finished = write
    expected = _full_scan(old, new, requested, finished=finished)
    changed = _changed(old, new)
    assert approvals_changed(old, new, requested, finished=finished, changed=changed) == expected
    assert approvals_changed(old, new, requested, finished=finished) == expected


def test_a_node_count_that_differs_falls_back_to_the_full_scan() -> None:
    """The engine never drops a node; were a state to lack one, its approval still goes."""
    old = _state({"a": NodeState(status=NodeStatus.WAITING), "b": NodeState()})
    new = _state({"b": old.nodes["b"]})
    _, done = approvals_changed(old, new, [], finished=False, changed=_changed(old, new))
    assert done == [approval_member("r1", "a")]
