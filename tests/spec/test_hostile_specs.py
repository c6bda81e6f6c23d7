"""Specs built to hurt: copies of one edge, oversized graphs, patterns that backtrack.

Each is refused with one clear error, in time linear in its size (``dagq bench validate``
times the edge copies; ``tests/api/test_loop_stall.py`` proves the API stays responsive).
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.spec.checks import EDGES_PER_NODE
from orchestrator.spec.model import WorkflowSpec
from orchestrator.spec.validator import DEFAULT_MAX_NODES, validate_data
from tests.spec.test_validator import edge, only, spec, task

MAX_EDGES = DEFAULT_MAX_NODES * EDGES_PER_NODE


def test_copies_of_one_edge_are_one_error() -> None:
    result = validate_data(spec([task("a"), task("b")], [edge("a", "b")] * (MAX_EDGES - 1)))
    issue = only(result, "DUPLICATE_EDGE")
    assert issue.message == (
        f"edge a -> b is listed {MAX_EDGES - 1} times "
        f"(edges[0], edges[1], edges[2] and {MAX_EDGES - 4} more)"
    )
    assert (issue.node_id, issue.edge_id, issue.path) == ("a", "a->b#2", "edges[1]")
    assert len(result.errors) == 1


def test_one_edge_id_on_many_edges_is_one_error() -> None:
    edges = [edge("a", "b", id="e"), edge("b", "c", id="e"), edge("a", "c", id="e")]
    issue = only(validate_data(spec([task("a"), task("b"), task("c")], edges)), "DUPLICATE_EDGE")
    assert issue.message == "edge id 'e' is used by a -> b, b -> c and a -> c"


def test_derived_edge_ids_stay_unique() -> None:
    edges = [edge("a", "b", id="a->b#2"), edge("a", "b"), edge("a", "b"), edge("a", "b")]
    built = WorkflowSpec.model_validate(spec([task("a"), task("b")], edges) | {"id": "w"})
    assert [e.id for e in built.edges] == ["a->b#2", "a->b", "a->b#3", "a->b#4"]


@pytest.mark.parametrize(
    ("field", "count", "code"),
    [("edges", MAX_EDGES + 1, "TOO_MANY_EDGES"), ("nodes", 20_000, "TOO_MANY_NODES")],
)
def test_an_oversized_graph_is_refused_before_anything_is_built(
    field: str, count: int, code: str
) -> None:
    data: dict[str, Any] = spec([task("a"), task("b")], [edge("a", "b")])
    # Items that would each be an error if they were looked at: they must not be.
    data[field] = [{"bogus": i} for i in range(count)]
    result = validate_data(data)
    assert [(e.code, e.path) for e in result.errors] == [(code, field)]
    assert f"has {count} {field}" in result.errors[0].message


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(?=a)b", "lookaround"),
        ("(a)\\1", "backreferences"),
        ("(", "missing )"),
        ("a{1001}", "repetition size"),
        ("x" * 1001, "at most 1000 characters"),
    ],
    ids=["lookahead", "backreference", "unbalanced", "huge-repeat", "too-long"],
)
def test_a_pattern_re2_cannot_run_is_refused_at_save(pattern: str, why: str) -> None:
    data = spec([task("a")], parameters={"p": {"type": "string", "pattern": pattern}})
    issue = only(validate_data(data), "BAD_PATTERN")
    assert issue.path == "parameters.p.pattern" and why in issue.message


def test_a_backtracking_pattern_is_fine_for_re2() -> None:
    data = spec([task("a")], parameters={"p": {"type": "string", "pattern": "(a+)+$"}})
    assert validate_data(data).valid
