"""``apply_all``: a batch of events in one transition gives what applying them one by
one gives, records a result's unseen start, and never lets a half-applied batch out."""

from __future__ import annotations

from dataclasses import fields

import pytest

from orchestrator.engine.commands import Command
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import (
    CancelRequested,
    Event,
    NodeFailed,
    NodeStarted,
    NodeSucceeded,
)
from orchestrator.engine.state import NodeState, RunState
from orchestrator.engine.transitions import apply, apply_all, start
from orchestrator.errors import Conflict
from orchestrator.spec.graph import Graph
from orchestrator.vocab import EventType, NodeStatus, RunStatus
from tests.engine.helpers import (
    T0,
    chain,
    dispatched,
    edge,
    emits,
    emitted_for,
    graph_of,
    task,
)

CFG = EngineConfig()


def _diamond() -> Graph:
    nodes = [task(n) for n in ("a", "b1", "b2", "b3", "join", "c1", "c2")]
    edges = [edge("a", b) for b in ("b1", "b2", "b3")]
    edges += [edge(b, "join") for b in ("b1", "b2", "b3")] + chain("join", "c1", "c2")
    return graph_of({"nodes": nodes, "edges": edges})


def _started(g: Graph) -> tuple[RunState, list[Command]]:
    return start(g, run_id="r1", workflow_version=1, params={}, now_ms=T0, config=CFG)


def _one_by_one(g: Graph, state: RunState, events: list[Event]) -> tuple[RunState, list[Command]]:
    commands: list[Command] = []
    for ev in events:
        state, cmds = apply(g, state, ev, CFG)
        commands += cmds
    return state, commands


def _plain(state: RunState) -> None:
    """Every node of ``state`` is a plain, immutable ``NodeState``."""
    assert all(type(st) is NodeState for st in state.nodes.values())
    st = next(iter(state.nodes.values()))
    with pytest.raises(AttributeError):
        st.status = NodeStatus.FAILED  # type: ignore[misc]


def test_a_batch_gives_what_one_by_one_gives_and_leaves_its_input_alone() -> None:
    g = _diamond()
    state, cmds = _started(g)
    before = {n: [getattr(st, f.name) for f in fields(st)] for n, st in state.nodes.items()}
    t = T0
    batched, one_by_one = state, state
    jobs = dispatched(cmds)
    while jobs:
        t += 10
        events: list[Event] = []
        for job in jobs:
            events += [
                NodeStarted(job.node, job.token, t, "w1"),
                NodeSucceeded(job.node, job.token, t + 1, {job.node: 1}),
            ]
        batched, got = apply_all(g, batched, events, CFG)
        one_by_one, want = _one_by_one(g, one_by_one, events)
        assert batched == one_by_one
        assert got == want
        _plain(batched)
        jobs = dispatched(got)
    assert batched.status == RunStatus.COMPLETED
    assert batched.output == {"c2": 1}
    after = {n: [getattr(st, f.name) for f in fields(st)] for n, st in state.nodes.items()}
    assert after == before  # the states it started from were copied, never changed


def test_a_result_of_an_attempt_never_seen_starting_records_that_start() -> None:
    g = _diamond()
    state, cmds = _started(g)
    (job,) = dispatched(cmds)
    new, got = apply_all(g, state, [NodeSucceeded("a", job.token, T0 + 5, {})], CFG)
    assert emitted_for(got, "a") == [EventType.NODE_STARTED, EventType.NODE_COMPLETED]
    assert new.nodes["a"].start_ms == T0 + 5
    retrying, got = apply_all(g, state, [NodeFailed("a", job.token, T0 + 5, "boom")], CFG)
    assert emitted_for(got, "a")[0] == EventType.NODE_STARTED
    assert retrying.nodes["a"].start_ms == T0 + 5


def test_stale_events_only_leave_the_state_itself() -> None:
    g = _diamond()
    state, _ = _started(g)
    stale: list[Event] = [
        NodeSucceeded("a", "9.9", T0 + 1, {}),
        NodeStarted("b1", "0.1", T0 + 1, "w"),
    ]
    assert apply_all(g, state, stale, CFG) == (state, [])
    assert apply_all(g, state, [], CFG) == (state, [])


def test_a_batch_whose_event_is_refused_raises_and_changes_nothing() -> None:
    g = _diamond()
    state, cmds = _started(g)
    (job,) = dispatched(cmds)
    done, _ = apply(g, state, CancelRequested(T0 + 1, "stop"), CFG)
    with pytest.raises(Conflict):
        apply_all(
            g,
            done,
            [NodeSucceeded("a", job.token, T0 + 2, {}), CancelRequested(T0 + 3, "again")],
            CFG,
        )
    assert done.status == RunStatus.CANCELLED
    _plain(done)


def test_a_cancel_in_a_batch_reports_what_each_node_was() -> None:
    """A node changed earlier in the batch is cancelled with its status at that moment."""
    g = _diamond()
    state, cmds = _started(g)
    (job,) = dispatched(cmds)
    events: list[Event] = [
        NodeStarted("a", job.token, T0 + 1, "w1"),
        NodeSucceeded("a", job.token, T0 + 2, {}),
        CancelRequested(T0 + 3, "stop"),
    ]
    new, got = apply_all(g, state, events, CFG)
    assert (new, got) == _one_by_one(g, state, events)
    was = {c.node: c.data["was"] for c in emits(got) if c.type == EventType.NODE_CANCELLED}
    queued, pending = NodeStatus.QUEUED, NodeStatus.PENDING
    assert was == {"b1": queued, "b2": queued, "b3": queued} | dict.fromkeys(
        ("join", "c1", "c2"), pending
    )
