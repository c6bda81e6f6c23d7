"""The inclusive gateway: every edge whose condition holds, the default only when none does,
and a join after it that waits only for the branches that were taken."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.spec.validator import validate_data
from tests.engine.helpers import Run, dispatched_nodes, edge, finished, task


def _spec(*, default: bool = True) -> dict[str, Any]:
    edges = [
        edge("a", "g"),
        edge("g", "b1", condition="output.v > 0"),
        edge("g", "b2", condition="output.v > 10"),
        edge("g", "b3", condition="output.v > 20"),
        edge("b1", "join"),
        edge("b2", "join"),
        edge("b3", "join"),
        edge("other", "join"),
    ]
    if default:
        edges.insert(1, edge("g", "other", default=True))
    nodes = [task("a"), {"id": "g", "type": "inclusive"}, task("b1"), task("b2"), task("b3")]
    nodes += [task("other"), {"id": "join", "type": "parallel"}, task("end")]
    return {"nodes": nodes, "edges": [*edges, edge("join", "end")]}


@pytest.mark.parametrize(
    ("v", "taken"),
    [(-5, ["other"]), (5, ["b1"]), (25, ["b1", "b2", "b3"])],
    ids=["none-true-default", "one-true", "three-true"],
)
def test_takes_every_true_edge_and_the_join_waits_for_just_those(v: int, taken: list[str]) -> None:
    run = Run(_spec())
    cmds = run.succeed("a", {"v": v})
    assert dispatched_nodes(cmds) == taken
    assert run.node("g").taken == tuple(f"g->{t}" for t in taken)
    for other in {"b1", "b2", "b3", "other"} - set(taken):
        assert run.status(other) == "skipped"
    for branch in taken[:-1]:
        run.succeed(branch, {branch: True})
        assert run.status("join") == "pending", "the join waits for every taken branch"
    cmds = run.succeed(taken[-1], {taken[-1]: True})
    assert run.status("join") == "completed"
    assert dispatched_nodes(cmds) == ["end"]
    assert run.job("end").input == dict.fromkeys(taken, True)
    run.succeed("end")
    assert run.run_status() == "completed"


def test_no_true_condition_and_no_default_fails_the_gateway() -> None:
    run = Run(_spec(default=False))
    cmds = run.succeed("a", {"v": -1})
    assert run.status("g") == "failed"
    assert "no condition held" in (run.node("g").last_error or "")
    assert finished(cmds) == ["failed"]


def test_a_condition_that_cannot_be_evaluated_fails_the_gateway() -> None:
    run = Run(_spec())
    run.succeed("a", {"v": "text"})
    assert run.status("g") == "failed"
    assert "output.v > 0" in (run.node("g").last_error or "")


def _codes(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> list[str]:
    result = validate_data({"id": "wf", "name": "wf", "nodes": nodes, "edges": edges})
    return [issue.code for issue in result.errors]


def test_validation_names_a_bad_condition_and_a_second_default() -> None:
    nodes = [{"id": "g", "type": "inclusive"}, task("a"), task("b"), task("c")]
    assert _codes(
        nodes, [edge("g", "a", condition="output.x >"), edge("g", "b", default=True)]
    ) == ["BAD_EXPRESSION"]
    two = [edge("g", "a", default=True), edge("g", "b", default=True), edge("g", "c")]
    codes = _codes(nodes, two)
    assert codes.count("EDGE_CONDITION") == 2  # two defaults, and an edge without condition
    result = validate_data({"id": "wf", "name": "wf", "nodes": nodes, "edges": two})
    assert any("2 default edges" in e.message for e in result.errors)
