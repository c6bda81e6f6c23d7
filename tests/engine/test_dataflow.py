"""Data flow and gateways: inputs, pass-through, decision, exclusive and parallel fork."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engine.commands import Dispatch, StartDeadline
from orchestrator.engine.config import EngineConfig

from .helpers import T0, Run, dispatched, dispatched_nodes, edge, emitted, finished, task


def test_start_dispatches_entry_job_with_everything_a_worker_needs() -> None:
    run = Run(
        {"nodes": [task("a", input={"k": 1}, timeout="7s", priority=8), task("b")]},
        {"p": "v"},
        config=EngineConfig(max_duration_s=60),
    )
    assert run.run_status() == "running"
    assert run.state.start_ms == T0
    assert emitted(run.last) == ["run_started", "node_queued"]
    assert StartDeadline(due_ms=T0 + 60_000) in run.last
    [job] = dispatched(run.last)
    assert (job.run, job.node, job.handler, job.kind, job.workflow) == (
        "r1",
        "a",
        "h_a",
        "task",
        "wf",
    )
    assert (job.attempt, job.token) == (1, "0.1")
    assert job.input == {"k": 1}
    assert job.params == {"p": "v"}
    assert job.timeout_s == 7.0
    assert run.status("a") == "queued"
    assert run.status("b") == "pending"


@pytest.mark.parametrize(
    ("priority", "lane"), [(10, "high"), (7, "high"), (5, "normal"), (4, "normal"), (0, "low")]
)
def test_node_priority_picks_the_lane(priority: int, lane: str) -> None:
    run = Run({"nodes": [task("a", priority=priority)]})
    [cmd] = [c for c in run.last if isinstance(c, Dispatch)]
    assert cmd.lane == lane


@pytest.mark.parametrize(
    ("edge_order", "static", "expected"),
    [
        # Later edges win on shared keys; the static input wins over everything.
        (("a", "b"), {}, {"x": 1, "y": 2, "shared": "from b"}),
        (("b", "a"), {}, {"x": 1, "y": 2, "shared": "from a"}),
        (("a", "b"), {"shared": "static", "z": 3}, {"x": 1, "y": 2, "shared": "static", "z": 3}),
    ],
)
def test_task_input_merges_predecessor_outputs_in_edge_order_then_static_input(
    edge_order: tuple[str, str], static: dict[str, Any], expected: dict[str, Any]
) -> None:
    run = Run(
        {
            "nodes": [task("a"), task("b"), task("c", input=static)],
            "edges": [edge(src, "c") for src in edge_order],
        }
    )
    assert sorted(dispatched_nodes(run.last)) == ["a", "b"]
    run.succeed("a", {"x": 1, "shared": "from a"})
    assert run.status("c") == "pending"  # join waits for b
    cmds = run.succeed("b", {"y": 2, "shared": "from b"})
    [job] = dispatched(cmds)
    assert job.node == "c"
    assert job.input == expected
    assert run.node("c").input == expected


def test_task_output_is_what_the_handler_returned() -> None:
    run = Run({"nodes": [task("a", input={"in": 1}), task("b")]})
    run.succeed("a", {"out": 2})
    assert run.node("a").output == {"out": 2}
    assert run.job("b").input == {"out": 2}  # not a's input


GATEWAYS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("decision", {"type": "decision", "condition": "output.x == 1"}, {"condition": True}),
    ("exclusive", {"type": "exclusive"}, {"condition": "output.x == 1"}),
    ("parallel", {"type": "parallel"}, {}),
    ("delay", {"type": "delay", "duration": "2s"}, {}),
]


@pytest.mark.parametrize(("kind", "node", "out_edge"), GATEWAYS, ids=[g[0] for g in GATEWAYS])
def test_gateways_and_delays_pass_their_merged_input_through(
    kind: str, node: dict[str, Any], out_edge: dict[str, Any]
) -> None:
    run = Run(
        {
            "nodes": [task("a"), task("b"), {"id": "g", **node}, task("c")],
            "edges": [edge("a", "g"), edge("b", "g"), edge("g", "c", **out_edge)],
        }
    )
    run.succeed("a", {"x": 1})
    run.succeed("b", {"y": 2})
    if kind == "delay":
        assert run.status("g") == "waiting"
        run.fire("g")
    assert run.status("g") == "completed"
    assert run.node("g").output == {"x": 1, "y": 2}
    assert run.job("c").input == {"x": 1, "y": 2}


def _decision_spec(condition: str) -> dict[str, Any]:
    return {
        "nodes": [
            task("a"),
            {"id": "d", "type": "decision", "condition": condition},
            task("yes"),
            task("no"),
            task("always"),
        ],
        "edges": [
            edge("a", "d"),
            edge("d", "yes", condition=True),
            edge("d", "no", condition=False),
            edge("d", "always"),
        ],
        "parameters": {"mode": {"type": "string", "default": "fast"}},
    }


@pytest.mark.parametrize(
    ("condition", "output", "params", "taken", "skipped"),
    [
        ("output.quality > 0.95", {"quality": 0.99}, {}, "yes", "no"),
        ("output.quality > 0.95", {"quality": 0.5}, {}, "no", "yes"),
        ("output.quality > 0.95", {"quality": 0.95}, {}, "no", "yes"),
        ("params.mode == 'fast'", {}, {}, "yes", "no"),
        ("params.mode == 'fast'", {}, {"mode": "slow"}, "no", "yes"),
        ("nodes.a.status == 'completed'", {}, {}, "yes", "no"),
        ("nodes.a.output.n >= 3", {"n": 3}, {}, "yes", "no"),
        ("output.missing.deep == 1", {}, {}, "no", "yes"),  # missing data is None, not an error
    ],
)
def test_decision_takes_the_edges_labelled_with_its_result(
    condition: str, output: dict[str, Any], params: dict[str, Any], taken: str, skipped: str
) -> None:
    run = Run(_decision_spec(condition), params or {"mode": "fast"})
    cmds = run.succeed("a", output)
    assert sorted(dispatched_nodes(cmds)) == sorted([taken, "always"])
    assert run.status("d") == "completed"
    assert run.status(skipped) == "skipped"
    assert "node_skipped" in emitted(cmds)
    assert set(run.node("d").taken or ()) == {f"d->{taken}", "d->always"}


@pytest.mark.parametrize(
    ("condition", "output"),
    [
        ("output.q > 1", {"q": None}),  # None > 1
        ("output.q > 1", {"q": "text"}),  # str > int
        ("output.n / output.d > 1", {"n": 1, "d": 0}),  # division by zero
    ],
)
def test_a_condition_that_cannot_be_evaluated_fails_the_decision_and_the_run(
    condition: str, output: dict[str, Any]
) -> None:
    run = Run(_decision_spec(condition))
    cmds = run.succeed("a", output)
    assert run.status("d") == "failed"
    assert condition in (run.node("d").last_error or "")
    assert run.run_status() == "failed"
    assert run.state.error_node == "d"
    assert {run.status(n) for n in ("yes", "no", "always")} == {"cancelled"}
    assert dispatched(cmds) == []
    assert finished(cmds) == ["failed"]
    types = emitted(cmds)
    assert types[-5:] == ["node_failed", *["node_cancelled"] * 3, "run_failed"]


def _exclusive_spec(*, default: bool = True) -> dict[str, Any]:
    edges = [
        edge("a", "x"),
        edge("x", "big", condition="output.v > 10"),
        edge("x", "mid", condition="output.v > 5"),
    ]
    if default:
        edges.insert(1, edge("x", "other", default=True))  # position does not matter
    return {
        "nodes": [
            task("a"),
            {"id": "x", "type": "exclusive"},
            task("big"),
            task("mid"),
            task("other"),
        ],
        "edges": edges,
    }


@pytest.mark.parametrize(
    ("v", "chosen"),
    [(20, "big"), (11, "big"), (7, "mid"), (10, "mid"), (5, "other"), (-1, "other")],
)
def test_exclusive_takes_the_first_true_edge_in_order_else_the_default(v: int, chosen: str) -> None:
    run = Run(_exclusive_spec())
    cmds = run.succeed("a", {"v": v})
    assert dispatched_nodes(cmds) == [chosen]
    assert run.node("x").taken == (f"x->{chosen}",)
    for other in {"big", "mid", "other"} - {chosen}:
        assert run.status(other) == "skipped"


def test_exclusive_without_a_match_or_default_fails_the_run() -> None:
    run = Run(_exclusive_spec(default=False))
    cmds = run.succeed("a", {"v": 1})
    assert run.status("x") == "failed"
    assert "no condition matched" in (run.node("x").last_error or "")
    assert run.run_status() == "failed"
    assert finished(cmds) == ["failed"]


def test_exclusive_edge_condition_error_fails_the_gateway() -> None:
    run = Run(_exclusive_spec())
    run.succeed("a", {"v": None})
    assert run.status("x") == "failed"
    assert "output.v > 10" in (run.node("x").last_error or "")
    assert run.run_status() == "failed"


def test_parallel_fork_dispatches_every_branch_in_one_transition() -> None:
    run = Run(
        {
            "nodes": [
                task("a"),
                {"id": "p", "type": "parallel"},
                task("b1"),
                task("b2"),
                task("b3"),
            ],
            "edges": [edge("a", "p"), edge("p", "b1"), edge("p", "b2"), edge("p", "b3")],
        }
    )
    cmds = run.succeed("a", {"k": 1})
    assert dispatched_nodes(cmds) == ["b1", "b2", "b3"]
    assert all(job.input == {"k": 1} for job in dispatched(cmds))
    assert run.node("p").taken is None  # every edge
