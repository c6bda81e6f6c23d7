"""Gantt bars and the critical path, over runs whose timings are set by the test."""

from __future__ import annotations

import pytest

from orchestrator.engine.events import NodeFailed, NodeStarted, NodeSucceeded, TimerFired
from orchestrator.engine.timeline import build, node_durations, to_json

from .helpers import T0, edge, task
from .test_replay import RecordedRun

SPEC = {
    "nodes": [
        task("prep"),
        task("fast"),
        task("slow", retries=1, retry_policy={"backoff": "fixed", "initial_interval": "1s"}),
        {"id": "join", "type": "parallel"},
        task("report"),
    ],
    "edges": [
        edge("prep", "fast"),
        edge("prep", "slow"),
        edge("fast", "join"),
        edge("slow", "join"),
        edge("join", "report"),
    ],
}


def _run(run: RecordedRun, node: str, queued_wait: int, work: int, *, fail: bool = False) -> int:
    """The live attempt of ``node`` waits ``queued_wait`` ms in its queue, then works ``work``."""
    token = run.token(node)
    begin = run.now + queued_wait
    run.send(NodeStarted(node, token, begin, "w1"))
    end = begin + work
    if fail:
        run.send(NodeFailed(node, token, end, "boom"))
    else:
        run.send(NodeSucceeded(node, token, end, {node: True}))
    return end


def _known_run() -> RecordedRun:
    run = RecordedRun(SPEC)
    _run(run, "prep", 10, 100)  # 0 -> 110
    run.now = T0 + 110
    # fast and slow were both queued at 110.
    _run(run, "slow", 5, 200, fail=True)  # 115 -> 315, then 1 s of backoff
    run.now = T0 + 110
    _run(run, "fast", 20, 300)  # 130 -> 430
    run.now = T0 + 1315
    run.send(TimerFired("slow", run.token("slow"), T0 + 1315))  # queued again at 1315
    _run(run, "slow", 15, 500)  # 1330 -> 1830; join completes at 1830, report queued
    _run(run, "report", 10, 40)  # 1840 -> 1880
    assert run.run_status() == "completed"
    return run


def test_the_critical_path_is_the_dominating_chain_and_its_parts_add_up() -> None:
    run = _known_run()
    tl = build(run.graph, run.rec.events, run.state.start_ms)
    cp = tl.critical
    assert cp.nodes == ["prep", "slow", "join", "report"]
    assert cp.total_ms == 1880 == (run.state.end_ms or 0) - run.state.start_ms
    assert cp.parts() == {
        "execution": 100 + 200 + 500 + 40,
        "queue": 10 + 5 + 15 + 10,
        "backoff": 1000,
        "delay": 0,
        "overhead": 0,
    }
    assert sum(cp.parts().values()) == cp.total_ms
    assert cp.share() == pytest.approx(1.0)
    assert node_durations(tl) == {
        "prep": 110, "fast": 320, "slow": 1720, "join": 0, "report": 50,
    }  # fmt: skip


def test_gantt_bars_show_each_attempt_its_wait_and_backoff() -> None:
    run = _known_run()
    data = to_json(build(run.graph, run.rec.events, run.state.start_ms))
    slow = [b for b in data["nodes"] if b["node"] == "slow"]
    assert [(b["attempt"], b["queued_ms"], b["started_ms"], b["ended_ms"]) for b in slow] == [
        (1, 110, 115, 315),
        (2, 1315, 1330, 1830),
    ]
    assert slow[0]["outcome"] == "retrying" and slow[0]["backoff_until_ms"] == 1315
    assert slow[1]["outcome"] == "completed"
    assert data["critical_path"] == ["prep", "slow", "join", "report"]
    assert data["duration_ms"] == 1880 and data["finished"] and data["complete"]
    assert [b["critical"] for b in data["nodes"] if b["node"] == "fast"] == [False]


def test_skipped_nodes_are_listed_apart_and_a_delay_counts_as_delay() -> None:
    run = RecordedRun(
        {
            "nodes": [
                {"id": "check", "type": "decision", "condition": "params.go"},
                {"id": "pause", "type": "delay", "duration": "2s"},
                task("never"),
                task("after"),
            ],
            "edges": [
                edge("check", "pause", condition=True),
                edge("check", "never", condition=False),
                edge("pause", "after"),
                edge("never", "after"),
            ],
        },
        params={"go": True},
    )
    run.fire("pause")
    _run(run, "after", 0, 30)
    tl = build(run.graph, run.rec.events, run.state.start_ms)
    assert [s.node for s in tl.skipped] == ["never"]
    assert tl.critical.nodes == ["check", "pause", "after"]
    assert tl.critical.parts()["delay"] == 2000
    assert tl.critical.total_ms == 2030


def test_a_compensated_saga_path_runs_back_through_its_compensations() -> None:
    run = RecordedRun(
        {
            "nodes": [
                task("a", compensation="undo_a"),
                task("b", compensation="undo_b", retries=0),
                {"id": "undo_a", "type": "compensation", "handler": "u"},
                {"id": "undo_b", "type": "compensation", "handler": "u"},
                task("c", retries=0),
            ],
            "edges": [edge("a", "b"), edge("b", "c")],
            "compensation_strategy": "saga",
        }
    )
    _run(run, "a", 0, 100)
    _run(run, "b", 0, 100)
    _run(run, "c", 0, 50, fail=True)
    _run(run, "undo_b", 0, 20)
    _run(run, "undo_a", 0, 20)
    assert run.run_status() == "compensated"
    tl = build(run.graph, run.rec.events, run.state.start_ms)
    assert tl.critical.nodes == ["a", "b", "c", "undo_b", "undo_a"]
    assert tl.critical.total_ms == (run.state.end_ms or 0) - run.state.start_ms


def test_a_retried_run_takes_its_path_in_the_last_epoch() -> None:
    run = RecordedRun({"nodes": [task("a"), task("b", retries=0)], "edges": [edge("a", "b")]})
    _run(run, "a", 0, 100)
    _run(run, "b", 0, 100, fail=True)
    run.retry("b")
    _run(run, "b", 0, 70)
    tl = build(run.graph, run.rec.events, run.state.start_ms)
    assert len(tl.epochs) == 2
    assert tl.critical.nodes == ["b"]
    assert tl.critical.start_ms == tl.epochs[-1]
    assert tl.critical.total_ms == (run.state.end_ms or 0) - tl.epochs[-1]
    assert [(b.node, b.epoch, b.outcome) for b in tl.bars] == [
        ("a", 0, "completed"), ("b", 0, "failed"), ("b", 1, "completed"),
    ]  # fmt: skip


def test_a_trimmed_stream_is_marked_incomplete() -> None:
    run = _known_run()
    tl = build(run.graph, run.rec.events[5:], run.state.start_ms)
    assert not tl.complete
