"""Joins and skips: Airflow's none_failed_min_one_success, and parallel join strategies."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Run, dispatched_nodes, edge, emitted, emitted_for, finished, task


def _diamond_after_decision() -> dict[str, Any]:
    return {
        "nodes": [
            task("a"),
            {"id": "d", "type": "decision", "condition": "output.ok"},
            task("yes"),
            task("no"),
            task("join"),
        ],
        "edges": [
            edge("a", "d"),
            edge("d", "yes", condition=True),
            edge("d", "no", condition=False),
            edge("yes", "join"),
            edge("no", "join"),
        ],
    }


@pytest.mark.parametrize(("ok", "taken", "skipped"), [(True, "yes", "no"), (False, "no", "yes")])
def test_diamond_after_decision_runs_the_join_once_with_one_skipped_branch(
    ok: bool, taken: str, skipped: str
) -> None:
    run = Run(_diamond_after_decision())
    cmds = run.succeed("a", {"ok": ok})
    assert dispatched_nodes(cmds) == [taken]
    assert run.status(skipped) == "skipped"
    assert run.status("join") == "pending"  # still waits for the taken branch
    cmds = run.succeed(taken, {"branch": taken})
    assert dispatched_nodes(cmds) == ["join"]
    assert run.job("join").input == {"branch": taken}  # nothing from the skipped branch
    cmds = run.succeed("join")
    assert run.run_status() == "completed"
    assert finished(cmds) == ["completed"]
    assert run.events().count("node_queued") == 3  # a, the taken branch, join: once each
    assert emitted_for(run.history, "join").count("node_queued") == 1


def test_skipping_propagates_down_a_chain_until_a_join_with_a_taken_input() -> None:
    run = Run(
        {
            "nodes": [
                {"id": "d", "type": "decision", "condition": "params.go"},
                task("y1"),
                task("n1"),
                task("n2"),
                task("n3"),
                task("end"),
            ],
            "edges": [
                edge("d", "y1", condition=True),
                edge("d", "n1", condition=False),
                edge("n1", "n2"),
                edge("n2", "n3"),
                edge("n3", "end"),
                edge("y1", "end"),
            ],
        },
        {"go": True},
    )
    # The decision is an entry node: it decided during start.
    assert [run.status(n) for n in ("n1", "n2", "n3")] == ["skipped"] * 3
    assert emitted(run.last).count("node_skipped") == 3
    assert dispatched_nodes(run.last) == ["y1"]
    cmds = run.succeed("y1")
    assert dispatched_nodes(cmds) == ["end"]
    run.succeed("end")
    assert run.run_status() == "completed"


def test_a_node_all_of_whose_inputs_were_skipped_is_skipped_and_the_run_completes() -> None:
    run = Run(
        {
            "nodes": [
                {"id": "d", "type": "decision", "condition": "params.go"},
                task("x"),
                task("y"),
                task("z"),
                task("w"),
                task("after"),
            ],
            "edges": [
                edge("d", "x", condition=False),
                edge("d", "y", condition=False),
                edge("d", "w", condition=True),
                edge("x", "z"),
                edge("y", "z"),
                edge("z", "after"),
            ],
        },
        {"go": True},
    )
    assert {n: run.status(n) for n in ("x", "y", "z", "after")} == dict.fromkeys(
        ("x", "y", "z", "after"), "skipped"
    )
    cmds = run.succeed("w")
    assert run.run_status() == "completed"
    assert finished(cmds) == ["completed"]


def test_a_join_waits_for_every_predecessor_to_settle() -> None:
    run = Run(
        {
            "nodes": [task("a"), task("b"), task("c"), task("j")],
            "edges": [edge("a", "j"), edge("b", "j"), edge("c", "j")],
        }
    )
    assert sorted(dispatched_nodes(run.last)) == ["a", "b", "c"]
    for node in ("a", "b"):
        assert dispatched_nodes(run.succeed(node)) == []
        assert run.status("j") == "pending"
    assert dispatched_nodes(run.succeed("c")) == ["j"]


def _parallel_join(join: str, join_count: int | None = None) -> dict[str, Any]:
    j: dict[str, Any] = {"id": "j", "type": "parallel", "join": join}
    if join_count is not None:
        j["join_count"] = join_count
    return {
        "nodes": [
            {"id": "p", "type": "parallel"},
            task("b1"),
            task("b2"),
            task("b3"),
            j,
            task("after"),
        ],
        "edges": [
            edge("p", "b1"),
            edge("p", "b2"),
            edge("p", "b3"),
            edge("b1", "j"),
            edge("b2", "j"),
            edge("b3", "j"),
            edge("j", "after"),
        ],
    }


@pytest.mark.parametrize(
    ("join", "count", "fires_after"),
    [("all", None, 3), ("any", None, 1), ("n_of_m", 2, 2), ("n_of_m", 3, 3), ("n_of_m", 1, 1)],
)
def test_parallel_join_fires_after_all_any_or_n_branches(
    join: str, count: int | None, fires_after: int
) -> None:
    run = Run(_parallel_join(join, count))
    assert dispatched_nodes(run.last) == ["b1", "b2", "b3"]
    for i, branch in enumerate(("b1", "b2", "b3"), start=1):
        cmds = run.succeed(branch, {branch: i})
        if i < fires_after:
            assert run.status("j") == "pending"
        if i == fires_after:
            assert run.status("j") == "completed"
            assert dispatched_nodes(cmds) == ["after"]
            # The join passes on what had arrived when it fired.
            assert run.node("j").output == {f"b{k}": k for k in range(1, i + 1)}
        if i > fires_after:
            assert dispatched_nodes(cmds) == []  # a late branch does not run `after` again
    run.succeed("after")
    assert run.run_status() == "completed"
    assert emitted_for(run.history, "after").count("node_queued") == 1


def _join_behind_decision(join: str, join_count: int | None) -> dict[str, Any]:
    spec = _parallel_join(join, join_count)
    spec["nodes"][0] = {"id": "p", "type": "decision", "condition": "params.n > 0"}
    spec["edges"][0:3] = [
        edge("p", "b1", condition=True),
        edge("p", "b2", condition=False),
        edge("p", "b3", condition=False),
    ]
    return spec


@pytest.mark.parametrize(
    ("join", "count", "n", "join_status"),
    [
        ("n_of_m", 2, 1, "skipped"),  # only b1 taken: can never reach 2
        ("n_of_m", 2, 0, "completed"),  # b2 and b3 taken
        ("n_of_m", 3, 0, "skipped"),
        ("any", None, 1, "completed"),
        ("all", None, 1, "completed"),  # none_failed_min_one_success
    ],
)
def test_parallel_join_is_skipped_when_it_can_no_longer_reach_its_count(
    join: str, count: int | None, n: int, join_status: str
) -> None:
    run = Run(_join_behind_decision(join, count), {"n": n})
    for branch in ("b1", "b2", "b3"):
        if run.status(branch) == "queued":
            run.succeed(branch)
    assert run.status("j") == join_status
    assert run.status("after") == ("skipped" if join_status == "skipped" else "queued")
    if run.status("after") == "queued":
        run.succeed("after")
    assert run.run_status() == "completed"


def test_n_of_m_is_skipped_as_soon_as_too_few_inputs_remain_open() -> None:
    spec = _join_behind_decision("n_of_m", 2)
    run = Run(spec, {"n": 1})
    # b2 and b3 were skipped at start: with one open input the join can never reach 2,
    # so it is skipped even before b1 finishes.
    assert run.status("b1") == "queued"
    assert run.status("j") == "skipped"
    assert run.status("after") == "skipped"
