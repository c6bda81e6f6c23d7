"""The upstream reference's ways of writing a workflow load into dagq's canonical form."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.spec.loader import build_spec
from orchestrator.spec.model import WorkflowSpec
from orchestrator.spec.validator import validate_data

from .test_validator import codes, edge, only, spec, task, warning_codes


def _built(data: dict[str, Any]) -> WorkflowSpec:
    built, issues = build_spec(data)
    assert built is not None, [i.to_dict() for i in issues]
    return built


def _decision(**config: Any) -> dict[str, Any]:
    return {"id": "d", "type": "decision", "config": {"condition": "output.x > 1", **config}}


@pytest.mark.parametrize(("written", "meant"), [("true", True), ("FALSE", False), (" True ", True)])
def test_a_decision_edge_written_as_a_string_is_the_boolean(written: str, meant: bool) -> None:
    built = _built(spec([_decision(), task("a")], [edge("d", "a", condition=written)]))
    assert built.edges[0].condition is meant


def test_the_word_true_on_an_exclusive_edge_stays_an_expression() -> None:
    nodes = [{"id": "x", "type": "exclusive"}, task("a")]
    built = _built(spec(nodes, [edge("x", "a", condition="true")]))
    assert built.edges[0].condition == "true"


def test_true_false_branches_are_the_decisions_edges() -> None:
    branches = [{"condition": "true", "targetNode": "a"}, {"condition": "false", "targetNode": "b"}]
    data = spec([_decision(branches=branches), task("a"), task("b")], [])
    result = validate_data(data)
    assert result.valid, result.to_dict()
    built = _built(data)
    assert [(e.source, e.target, e.condition) for e in built.edges] == [
        ("d", "a", True),
        ("d", "b", False),
    ]


def test_a_branch_gives_its_condition_to_a_listed_edge_without_one() -> None:
    branches = [{"condition": "true", "targetNode": "a"}, {"condition": "false", "targetNode": "b"}]
    data = spec([_decision(branches=branches), task("a"), task("b")], [edge("d", "a", id="e1")])
    built = _built(data)
    assert [(e.id, e.condition) for e in built.edges] == [("e1", True), ("d->b", False)]


def test_expression_branches_with_a_default_make_an_exclusive_gateway() -> None:
    node = {
        "id": "route",
        "type": "decision",
        "config": {
            "branches": [{"condition": "params.region == 'eu'", "targetNode": "eu", "label": "EU"}],
            "defaultBranch": "other",
        },
    }
    data = spec([node, task("eu"), task("other")], [])
    assert validate_data(data).valid
    built = _built(data)
    assert built.node("route").type == "exclusive"
    assert [(e.target, e.condition, e.default, e.label) for e in built.edges] == [
        ("eu", "params.region == 'eu'", False, "EU"),
        ("other", None, True, None),
    ]


def test_expression_branches_beside_a_condition_are_refused_with_the_reason() -> None:
    branches = [{"condition": "output.x > 5", "targetNode": "a"}]
    result = validate_data(spec([_decision(branches=branches), task("a")]))
    issue = only(result, "DECISION_BRANCHES")
    assert "'d' has a condition" in issue.message and "leave the condition out" in issue.message


def test_branches_that_are_not_a_list_of_objects_are_refused() -> None:
    result = validate_data(spec([_decision(branches="a"), task("a")]))
    assert codes(result) == ["DECISION_BRANCHES"]


def test_a_compensation_strategy_is_kept_and_manual_is_warned_about() -> None:
    comp = {"id": "undo", "type": "compensation", "handler": "u", "compensates": "a"}
    for strategy in ("immediate", "deferred"):
        data = spec([task("a"), {**comp, "config": {"strategy": strategy}}],
                    compensation_strategy="saga")  # fmt: skip
        assert _built(data).node("undo").strategy == strategy  # type: ignore[union-attr]
        assert "COMPENSATION_STRATEGY" not in warning_codes(validate_data(data))
    data = spec([task("a"), {**comp, "strategy": "manual"}], compensation_strategy="saga")
    result = validate_data(data)
    assert result.valid and "COMPENSATION_STRATEGY" in warning_codes(result)
    bad = spec([task("a"), {**comp, "strategy": "later"}])
    assert codes(validate_data(bad)) == ["SCHEMA"]


def test_a_parameter_validation_must_be_an_allowed_expression() -> None:
    good = spec([task("a")], parameters={"n": {"type": "number", "validation": "params.n > 0"}})
    assert validate_data(good).valid
    bad = spec([task("a")], parameters={"n": {"type": "number", "validation": "value > 0"}})
    issue = only(validate_data(bad), "BAD_EXPRESSION")
    assert issue.path == "parameters.n.validation"
    assert "unknown name 'value'" in issue.message


def test_a_node_name_equal_to_its_id_reads_as_no_name() -> None:
    built = _built(spec([{**task("a"), "name": "a"}, {**task("b"), "name": "Bee"}]))
    assert built.node("a").name is None and built.node("b").name == "Bee"
