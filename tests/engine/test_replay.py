"""Replay: the state rebuilt after each recorded event is the state the engine had then."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.engine.commands import Command, Emit
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import Event
from orchestrator.engine.replay import UNKNOWN, replay
from orchestrator.engine.state import RunState
from orchestrator.spec.graph import Graph
from orchestrator.vocab import EventType, NodeStatus, RunStatus, implied_changes

from .helpers import Run, dispatched, edge, task
from .test_properties import Case, Driver, cases


class Recording:
    """What the executor would have written: each emitted event with the state after it."""

    def __init__(self) -> None:
        self.events: list[Emit] = []
        self.states: list[RunState] = []

    def add(self, state: RunState, commands: list[Command]) -> None:
        for cmd in commands:
            if isinstance(cmd, Emit):
                self.events.append(cmd)
                self.states.append(state)

    def check(self, graph: Graph, final: RunState, cfg: EngineConfig) -> None:
        rebuilt = replay(graph, final, self.events, cfg)
        assert rebuilt.note is None, _why(rebuilt.exact_until, self.events, None, final)
        assert rebuilt.exact
        assert len(rebuilt.states) == len(self.events)
        for i, (got, want) in enumerate(zip(rebuilt.states, self.states, strict=True)):
            assert got == want, _why(i, self.events, got, want)
            assert rebuilt.statuses[i] == {n: s.status for n, s in want.nodes.items()}
        self.check_events_alone(graph)

    def check_events_alone(self, graph: Graph) -> None:
        """The events carry every status change: folding them (as the monitor and
        ``dagq runs watch`` do) gives the engine's statuses after each transition."""
        run: str = RunStatus.PENDING
        nodes: dict[str, str] = dict.fromkeys(graph.order, NodeStatus.PENDING)
        for i, (event, state) in enumerate(zip(self.events, self.states, strict=True)):
            run_status, changes = implied_changes(event.type, event.node, event.data)
            run = run_status or run
            nodes.update(changes)
            if i + 1 == len(self.states) or self.states[i + 1] is not state:
                assert nodes == {n: s.status for n, s in state.nodes.items()}, (
                    _why(i, self.events, None, state)
                )  # fmt: skip
                assert run == state.status


class RecordedRun(Run):
    """A scripted run that records its events and states."""

    def __init__(self, spec: Mapping[str, Any], **kw: Any) -> None:
        super().__init__(spec, **kw)
        self.rec = Recording()
        self.rec.add(self.state, self.last)

    def send(self, event: Event) -> list[Command]:
        cmds = super().send(event)
        self.rec.add(self.state, cmds)
        return cmds

    def check(self) -> None:
        self.rec.check(self.graph, self.state, self.cfg)


class RecordedDriver(Driver):
    def __init__(self, case: Case, max_parallel: int) -> None:
        super().__init__(case, max_parallel)
        self.rec = Recording()

    def absorb(self, commands: list[Command]) -> None:
        super().absorb(commands)
        if hasattr(self, "rec"):
            self.rec.add(self.state, commands)


@settings(max_examples=150, deadline=None)
@given(cases(), st.integers(1, 3), st.data())
def test_replay_of_any_delivery_order_equals_the_engine_state_after_every_event(
    case: Case, max_parallel: int, data: st.DataObject
) -> None:
    driver = RecordedDriver(case, max_parallel)
    # start()'s commands were absorbed before the recording existed: record them now.
    from orchestrator.engine.transitions import start

    first, cmds = start(
        case.graph, run_id="p", workflow_version=1, params=case.params, now_ms=driver.clock,
        config=driver.cfg,
    )  # fmt: skip
    driver.rec.add(first, cmds)
    while driver.pending:
        # Messages arrive in any order, but timers fire when due (as the timer loop does):
        # a timer that fires late and finds no free slot leaves no event to date it by.
        due = [
            (p[3], k) for k, p in enumerate(driver.pending)
            if p[0] == "timer" and p[3] <= driver.clock + 1
        ]  # fmt: skip
        index = min(due)[1] if due else data.draw(st.integers(0, len(driver.pending) - 1))
        if driver.pending[index][0] == "timer":  # and in the order they are due
            index = min((p[3], k) for k, p in enumerate(driver.pending) if p[0] == "timer")[1]
        driver.step(index, redeliver=False)
    driver.rec.check(case.graph, driver.state, driver.cfg)


def test_a_compensated_saga_replays_its_compensations_in_reverse_order() -> None:
    run = RecordedRun(
        {
            "nodes": [
                task("a", compensation="undo_a"),
                task("b", compensation="undo_b"),
                task("c", retries=0),
                {"id": "undo_a", "type": "compensation", "handler": "u"},
                {"id": "undo_b", "type": "compensation", "handler": "u"},
            ],
            "edges": [edge("a", "b"), edge("b", "c")],
            "compensation_strategy": "saga",
        }
    )
    run.succeed("a", {"x": 1})
    run.succeed("b", {"y": 2})
    run.fail("c")
    while run.run_status() == "compensating":
        [job] = dispatched(run.last)
        run.succeed(job.node)
    assert run.run_status() == "compensated"
    run.check()
    types: list[tuple[str, str | None]] = [(e.type, e.node) for e in run.rec.events]
    assert types.index(("node_compensated", "b")) < types.index(("node_compensated", "a"))


def test_a_retried_run_replays_each_epoch_including_skips_and_only_node() -> None:
    run = RecordedRun(
        {
            "nodes": [task("a"), task("b", retries=1), task("c"), task("d")],
            "edges": [edge("a", "b"), edge("b", "c"), edge("c", "d")],
        }
    )
    run.succeed("a", {"n": 1})
    run.fail_for_good("b")
    assert run.run_status() == "failed"
    run.retry("b")
    run.succeed("b", {"m": 2})
    run.fail_for_good("c")
    run.retry("c", only_node=True)
    run.succeed("c")
    run.succeed("d")
    assert run.run_status() == "completed"
    assert run.state.epoch == 2
    run.check()


def test_a_cancelled_run_a_delay_and_the_deadline_replay() -> None:
    run = RecordedRun(
        {
            "nodes": [task("a"), {"id": "wait", "type": "delay", "duration": "2s"}, task("b")],
            "edges": [edge("a", "wait"), edge("wait", "b")],
        }
    )
    run.succeed("a")
    run.fire("wait")
    run.begin("b")
    run.cancel()
    run.check()
    late = RecordedRun({"nodes": [task("slow")]}, run_id="r2")
    late.begin("slow")
    late.deadline()
    assert late.run_status() == "failed"
    late.check()


def test_replay_finds_the_moment_by_time_and_marks_changes() -> None:
    run = RecordedRun({"nodes": [task("a"), task("b")], "edges": [edge("a", "b")]})
    run.succeed("a")
    run.succeed("b")
    rebuilt = replay(run.graph, run.state, run.rec.events, run.cfg)
    assert rebuilt.index_at(-1) == -1
    assert rebuilt.status_at(-1) == {"a": "pending", "b": "pending"}
    at0 = rebuilt.index_at(0)
    assert rebuilt.status_at(at0) == {"a": "queued", "b": "pending"}
    assert rebuilt.status_at(rebuilt.index_at(10_000))["b"] == "completed"
    assert rebuilt.changes[0] == frozenset({"a"})  # run_started made a queued


def test_a_trimmed_stream_says_so_and_reads_statuses_from_the_retained_events() -> None:
    run = RecordedRun({"nodes": [task("a"), task("b")], "edges": [edge("a", "b")]})
    run.succeed("a")
    run.succeed("b")
    kept = run.rec.events[4:]  # run_started, a queued/started/completed are gone
    rebuilt = replay(run.graph, run.state, kept, run.cfg)
    assert rebuilt.trimmed and not rebuilt.exact
    assert rebuilt.note is not None and "trimmed" in rebuilt.note
    assert rebuilt.initial == {"a": UNKNOWN, "b": UNKNOWN}
    assert rebuilt.statuses[-1]["b"] == "completed"
    assert rebuilt.statuses[-1]["a"] == UNKNOWN


def test_a_stream_the_transitions_cannot_reproduce_is_reported_not_hidden() -> None:
    run = RecordedRun({"nodes": [task("a"), task("b")], "edges": [edge("a", "b")]})
    run.succeed("a")
    run.succeed("b")
    forged = [*run.rec.events]
    forged.insert(2, Emit(EventType.NODE_COMPLETED, forged[1].at_ms, "b"))  # b never ran
    rebuilt = replay(run.graph, run.state, forged, run.cfg)
    assert not rebuilt.exact
    assert rebuilt.exact_until == 2
    assert rebuilt.note is not None and "event 3" in rebuilt.note
    assert rebuilt.statuses[2]["b"] == "completed"  # read off the events past that point


def _why(i: int, events: list[Emit], got: RunState | None, want: RunState) -> str:
    lines = [f"after event {i + 1}:"]
    lines += [f"  {k + 1}: {e.type} {e.node} @{e.at_ms}" for k, e in enumerate(events)]
    if got is not None:
        for n in want.nodes:
            if got.nodes.get(n) != want.nodes[n]:
                lines.append(f"  {n}: got {got.nodes.get(n)} want {want.nodes[n]}")
        lines.append(f"  ready got {got.ready} want {want.ready}")
    return "\n".join(lines)
