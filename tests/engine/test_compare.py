"""Comparing two runs, JSON diffs and per-node percentiles."""

from __future__ import annotations

import pytest

from orchestrator.engine.compare import compare_runs, json_diff, node_stats, percentile

from .helpers import Run, edge, task

SPEC = {
    "nodes": [
        {"id": "check", "type": "decision", "condition": "params.big"},
        task("small"),
        task("large"),
    ],
    "edges": [edge("check", "small", condition=False), edge("check", "large", condition=True)],
}


def test_json_diff_names_each_path_that_differs() -> None:
    a = {"n": 1, "items": [1, 2], "deep": {"x": "a"}, "gone": True}
    b = {"n": 2, "items": [1, 3], "deep": {"x": "a", "y": None}, "t": 1.0}
    assert json_diff(a, b) == [
        {"path": "/deep/y", "op": "added", "b": None},
        {"path": "/gone", "op": "removed", "a": True},
        {"path": "/items/1", "op": "changed", "a": 2, "b": 3},
        {"path": "/n", "op": "changed", "a": 1, "b": 2},
        {"path": "/t", "op": "added", "b": 1.0},
    ]
    assert json_diff({"a": 1}, {"a": 1}) == []
    assert json_diff(1, True) == [{"path": "/", "op": "changed", "a": 1, "b": True}]


def test_two_runs_that_took_other_branches_compare_by_branch_output_and_duration() -> None:
    one = Run(SPEC, {"big": False}, run_id="r1")
    one.succeed("small", {"size": 1})
    two = Run(SPEC, {"big": True}, run_id="r2")
    two.succeed("large", {"size": 100})
    out = compare_runs(
        one.state, two.state, {"small": 100, "check": 0}, {"large": 900, "check": 0},
        execution=({"small": 80, "check": 0}, {"large": 850, "check": 0}),
    )  # fmt: skip
    assert out["runs"] == ["r1", "r2"] and not out["versions_differ"]
    assert {b["node"]: (b["a"], b["b"]) for b in out["branches"]} == {
        "check": ("completed", "completed"),  # took another edge
        "small": ("completed", "skipped"),
        "large": ("skipped", "completed"),
    }
    assert out["outputs"]["small"] == [{"path": "/size", "op": "removed", "a": 1}]
    assert out["params"] == [{"path": "/big", "op": "changed", "a": False, "b": True}]
    check = next(d for d in out["durations"] if d["node"] == "check")
    assert check == {
        "node": "check", "a_ms": 0, "b_ms": 0, "change_ms": 0, "change": None,
        "a_exec_ms": 0, "b_exec_ms": 0,
    }  # fmt: skip
    large = next(d for d in out["durations"] if d["node"] == "large")
    assert (large["a_ms"], large["b_ms"], large["b_exec_ms"]) == (None, 900, 850)


def test_percentiles_per_node() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95
    with pytest.raises(ValueError):
        percentile([], 50)
    stats = node_stats([{"a": 10, "b": 1}, {"a": 30}, {"a": 20}], [{"a": 5}, {"a": 7}, {"a": 6}])
    assert stats == {
        "a": {"runs": 3, "p50_ms": 20, "p95_ms": 30, "max_ms": 30, "exec_p50_ms": 6,
              "exec_p95_ms": 7},
        "b": {"runs": 1, "p50_ms": 1, "p95_ms": 1, "max_ms": 1},
    }  # fmt: skip
