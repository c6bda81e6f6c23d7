"""Every validator code, each from a minimal spec: the code, the node id, the message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import SpecInvalid
from orchestrator.spec.loader import SpecIssue
from orchestrator.spec.validator import (
    ValidationResult,
    validate_data,
    validate_spec,
    validate_text,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def task(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "task", "handler": "h", **extra}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source": source, "target": target, **extra}


def spec(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **top: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "t", "nodes": nodes, **top}
    if edges is not None:
        data["edges"] = edges
    return data


def only(result: ValidationResult, code: str) -> SpecIssue:
    """The single error with ``code`` (and fail when the result has others)."""
    matching = [e for e in result.errors if e.code == code]
    assert len(matching) == 1, result.to_dict()
    return matching[0]


def codes(result: ValidationResult) -> list[str]:
    return sorted(e.code for e in result.errors)


def warning_codes(result: ValidationResult) -> list[str]:
    return sorted(w.code for w in result.warnings)


def decision(node_id: str = "d", condition: str = "output.x > 1") -> dict[str, Any]:
    return {"id": node_id, "type": "decision", "condition": condition}


# --- the examples -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data-pipeline.yaml", "order-processing.yaml"])
def test_seed_examples_are_valid_without_warnings(name: str) -> None:
    result, built = validate_text((EXAMPLES / name).read_text(), name)
    assert result.to_dict() == {"valid": True, "errors": [], "warnings": []}
    assert built is not None


# --- one test per error code --------------------------------------------------------------


def test_parse_reports_line_and_column() -> None:
    result, built = validate_text("name: x\nnodes: [\n  - a\n", "bad.yaml")
    issue = only(result, "PARSE")
    assert built is None
    assert "line 3, column" in issue.message


def test_schema_names_the_node_and_path() -> None:
    result = validate_data(spec([{"id": "fetch", "type": "task"}]))
    issue = only(result, "SCHEMA")
    assert issue.node_id == "fetch"
    assert issue.path == "nodes[0].handler"
    assert "fetch" in issue.message and "handler" in issue.message


def test_duplicate_node() -> None:
    result = validate_data(spec([task("a"), task("b"), task("a")], [edge("a", "b")]))
    issue = only(result, "DUPLICATE_NODE")
    assert issue.node_id == "a"
    assert "'a'" in issue.message and "nodes[0]" in issue.message and "nodes[2]" in issue.message


def test_unknown_node_in_an_edge() -> None:
    result = validate_data(spec([task("a"), task("b")], [edge("a", "b"), edge("b", "ghost")]))
    issue = only(result, "UNKNOWN_NODE")
    assert issue.node_id == "b"
    assert issue.edge_id == "b->ghost"
    assert "'ghost'" in issue.message and "b -> ghost" in issue.message


def test_unknown_node_in_a_compensation_link() -> None:
    result = validate_data(spec([task("a", compensation="undo_a")]))
    issue = only(result, "UNKNOWN_NODE")
    assert issue.node_id == "a"
    assert issue.path == "nodes[0].compensation"
    assert "'undo_a'" in issue.message


def test_cycle_lists_the_nodes_in_order() -> None:
    nodes = [task("start"), task("a"), task("b"), task("c")]
    edges = [edge("start", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a")]
    issue = only(validate_data(spec(nodes, edges)), "CYCLE")
    assert issue.node_id == "a"
    assert "a -> b -> c -> a" in issue.message


def test_self_loop_is_a_cycle() -> None:
    result = validate_data(spec([task("a"), task("b")], [edge("a", "b"), edge("b", "b")]))
    issue = only(result, "CYCLE")
    assert issue.node_id == "b"
    assert "b -> b" in issue.message


def test_two_separate_cycles_are_both_reported() -> None:
    nodes = [task(n) for n in "sabcd"]
    edges = [
        edge("s", "a"),
        edge("a", "b"),
        edge("b", "a"),
        edge("s", "c"),
        edge("c", "d"),
        edge("d", "c"),
    ]
    result = validate_data(spec(nodes, edges))
    assert [e.node_id for e in result.errors if e.code == "CYCLE"] == ["a", "c"]


def test_no_entry() -> None:
    result = validate_data(spec([task("a"), task("b")], [edge("a", "b"), edge("b", "a")]))
    issue = only(result, "NO_ENTRY")
    assert issue.node_id == "a"
    assert "'a'" in issue.message and "'b'" in issue.message
    assert "CYCLE" in codes(result)


def test_no_entry_when_only_compensation_nodes() -> None:
    only_comp = [{"id": "c", "type": "compensation", "handler": "h"}]
    assert "NO_ENTRY" in codes(validate_data(spec(only_comp)))


def test_decision_without_a_false_branch() -> None:
    result = validate_data(spec([decision(), task("yes")], [edge("d", "yes", condition=True)]))
    issue = only(result, "DECISION_BRANCHES")
    assert issue.node_id == "d"
    assert "'d'" in issue.message and "false" in issue.message


def test_decision_edge_with_an_expression_condition() -> None:
    edges = [
        edge("d", "a", condition=True),
        edge("d", "b", condition=False),
        edge("d", "c", condition="output.y"),
    ]
    result = validate_data(spec([decision(), task("a"), task("b"), task("c")], edges))
    issue = only(result, "DECISION_BRANCHES")
    assert issue.edge_id == "d->c" and issue.node_id == "d"
    assert "d -> c" in issue.message


def test_bad_expression_on_a_decision() -> None:
    nodes = [decision(condition="__import__('os').system('x')"), task("a"), task("b")]
    edges = [edge("d", "a", condition=True), edge("d", "b", condition=False)]
    issue = only(validate_data(spec(nodes, edges)), "BAD_EXPRESSION")
    assert issue.node_id == "d"
    assert issue.path == "nodes[0].condition"
    assert "'d'" in issue.message


def test_bad_expression_on_an_exclusive_edge() -> None:
    nodes = [{"id": "x", "type": "exclusive"}, task("a"), task("b")]
    edges = [edge("x", "a", condition="output.a.__class__"), edge("x", "b", default=True)]
    issue = only(validate_data(spec(nodes, edges)), "BAD_EXPRESSION")
    assert issue.node_id == "x" and issue.edge_id == "x->a"
    assert issue.path == "edges[0].condition"
    assert "x -> a" in issue.message


def test_too_long_expression_is_a_bad_expression() -> None:
    nodes = [decision(condition="output.x == " + "1" * 1100), task("a"), task("b")]
    edges = [edge("d", "a", condition=True), edge("d", "b", condition=False)]
    issue = only(validate_data(spec(nodes, edges)), "BAD_EXPRESSION")
    assert issue.node_id == "d"
    assert "1024" in issue.message


def test_bad_duration() -> None:
    issue = only(validate_data(spec([task("a", timeout="soon")])), "BAD_DURATION")
    assert issue.node_id == "a" and issue.path == "nodes[0].timeout"
    assert "'soon'" in issue.message and "'a'" in issue.message


@pytest.mark.parametrize("zero", [0, 0.0, "0s", "0ms", "0m0s"])
@pytest.mark.parametrize("kind", ["task", "compensation"])
def test_a_zero_timeout_is_refused_not_read_as_no_timeout(zero: object, kind: str) -> None:
    # Issue 10 item 9: `timeout: 0` silently disabled the task's timeout.
    node = {**task("a", timeout=zero), "type": kind}
    issue = only(validate_data(spec([node])), "BAD_DURATION")
    assert issue.node_id == "a" and issue.path == "nodes[0].timeout"
    assert "must be more than 0" in issue.message and "leave it out" in issue.message


def test_a_short_timeout_is_fine() -> None:
    result = validate_data(spec([task("a", timeout="300ms")]))
    assert result.valid, result.to_dict()


def test_bad_cron() -> None:
    nodes = [{"id": "wait", "type": "delay", "cron": "61 * * * *"}]
    issue = only(validate_data(spec(nodes)), "BAD_CRON")
    assert issue.node_id == "wait" and issue.path == "nodes[0].cron"
    assert "61 * * * *" in issue.message


@pytest.mark.parametrize("fields", [{}, {"duration": "5s", "cron": "* * * * *"}])
def test_delay_spec(fields: dict[str, str]) -> None:
    issue = only(validate_data(spec([{"id": "wait", "type": "delay", **fields}])), "DELAY_SPEC")
    assert issue.node_id == "wait"
    assert "'wait'" in issue.message


def test_compensation_link_to_a_non_task() -> None:
    nodes = [task("a"), {"id": "undo", "type": "compensation", "handler": "h", "compensates": "d"}]
    nodes.append({"id": "d", "type": "delay", "duration": "1s"})
    result = validate_data(spec(nodes, [edge("a", "d")], compensation_strategy="saga"))
    issue = only(result, "COMPENSATION_TARGET")
    assert issue.node_id == "undo"
    assert "'d'" in issue.message and "delay" in issue.message


def test_task_compensation_pointing_at_a_task() -> None:
    result = validate_data(spec([task("a", compensation="b"), task("b")], [edge("a", "b")]))
    issue = only(result, "COMPENSATION_TARGET")
    assert issue.node_id == "a" and "'b'" in issue.message


def test_compensation_node_wired_into_edges() -> None:
    nodes = [task("a", compensation="undo"), {"id": "undo", "type": "compensation", "handler": "h"}]
    result = validate_data(spec(nodes, [edge("a", "undo")], compensation_strategy="saga"))
    issue = only(result, "COMPENSATION_TARGET")
    assert issue.node_id == "undo" and issue.edge_id == "a->undo"
    assert "a -> undo" in issue.message


def test_compensation_links_that_disagree() -> None:
    nodes = [
        task("a", compensation="undo"),
        task("b"),
        {"id": "undo", "type": "compensation", "handler": "h", "compensates": "b"},
    ]
    result = validate_data(spec(nodes, [edge("a", "b")], compensation_strategy="saga"))
    issue = only(result, "COMPENSATION_TARGET")
    assert issue.node_id == "undo"
    assert "'a'" in issue.message and "'b'" in issue.message


def parallel_join(join: str | None, join_count: int | None, inputs: int = 2) -> dict[str, Any]:
    join_node: dict[str, Any] = {"id": "j", "type": "parallel"}
    if join is not None:
        join_node["join"] = join
    if join_count is not None:
        join_node["join_count"] = join_count
    sources = [task(f"s{i}") for i in range(inputs)]
    return spec([*sources, join_node], [edge(s["id"], "j") for s in sources])


@pytest.mark.parametrize(
    ("join", "count", "words"),
    [("n_of_m", None, "no join_count"), ("n_of_m", 3, "only 2"), ("all", 1, "join_count 1")],
)
def test_join_count(join: str, count: int | None, words: str) -> None:
    issue = only(validate_data(parallel_join(join, count)), "JOIN_COUNT")
    assert issue.node_id == "j"
    assert "'j'" in issue.message and words in issue.message


def test_n_of_m_within_the_inputs_is_valid() -> None:
    assert validate_data(parallel_join("n_of_m", 2, inputs=3)).valid


def test_too_many_nodes() -> None:
    nodes = [task(f"n{i}") for i in range(6)]
    result = validate_data(spec(nodes), max_nodes=5)
    issue = only(result, "TOO_MANY_NODES")
    assert "6" in issue.message and "5" in issue.message
    assert validate_data(spec(nodes), max_nodes=6).valid


def test_duplicate_edge() -> None:
    result = validate_data(spec([task("a"), task("b")], [edge("a", "b"), edge("a", "b")]))
    issue = only(result, "DUPLICATE_EDGE")
    assert issue.node_id == "a"
    assert "a -> b" in issue.message


def test_duplicate_edge_id() -> None:
    edges = [edge("a", "b", id="e1"), edge("b", "c", id="e1")]
    issue = only(validate_data(spec([task("a"), task("b"), task("c")], edges)), "DUPLICATE_EDGE")
    assert issue.edge_id == "e1" and "'e1'" in issue.message


def test_edge_condition_on_a_task_edge() -> None:
    result = validate_data(spec([task("a"), task("b")], [edge("a", "b", condition="output.ok")]))
    issue = only(result, "EDGE_CONDITION")
    assert issue.node_id == "a" and "'a' is a task node" in issue.message


def test_exclusive_with_two_defaults() -> None:
    nodes = [{"id": "x", "type": "exclusive"}, task("a"), task("b")]
    edges = [edge("x", "a", default=True), edge("x", "b", default=True)]
    issue = only(validate_data(spec(nodes, edges)), "EDGE_CONDITION")
    assert issue.node_id == "x" and "2 default edges" in issue.message


def test_exclusive_edge_without_condition_or_default() -> None:
    nodes = [{"id": "x", "type": "exclusive"}, task("a"), task("b")]
    edges = [edge("x", "a"), edge("x", "b", default=True)]
    issue = only(validate_data(spec(nodes, edges)), "EDGE_CONDITION")
    assert issue.edge_id == "x->a" and "'x'" in issue.message


# --- warnings -----------------------------------------------------------------------------


def test_exclusive_without_default_warns_with_a_suggestion() -> None:
    nodes = [{"id": "x", "type": "exclusive"}, task("a")]
    result = validate_data(spec(nodes, [edge("x", "a", condition="params.go")]))
    assert result.valid
    (warning,) = result.warnings
    assert warning.code == "EXCLUSIVE_NO_DEFAULT" and warning.node_id == "x"
    assert warning.suggestion and "default: true" in warning.suggestion


def test_isolated_node() -> None:
    result = validate_data(spec([task("a"), task("b"), task("lonely")], [edge("a", "b")]))
    assert result.valid
    assert [(w.code, w.node_id) for w in result.warnings] == [("ISOLATED_NODE", "lonely")]


def test_no_isolated_warning_without_explicit_edges() -> None:
    assert validate_data(spec([task("a"), task("b")])).warnings == ()


def test_unreachable_behind_a_cycle_without_entry() -> None:
    nodes = [task("s"), task("t"), task("a"), task("b"), task("after")]
    edges = [edge("s", "t"), edge("a", "b"), edge("b", "a"), edge("b", "after")]
    result = validate_data(spec(nodes, edges))
    assert [(w.code, w.node_id) for w in result.warnings] == [("UNREACHABLE", "after")]


def test_missing_compensation_in_a_saga() -> None:
    nodes = [
        task("a", compensation="undo_a"),
        task("b"),
        {"id": "undo_a", "type": "compensation", "handler": "h"},
    ]
    result = validate_data(spec(nodes, compensation_strategy="saga"))
    assert result.valid
    (warning,) = result.warnings
    assert warning.code == "MISSING_COMPENSATION" and warning.node_id == "b"
    assert warning.suggestion and "compensates: b" in warning.suggestion


def test_compensation_written_on_the_compensation_side_counts() -> None:
    nodes = [
        task("a"),
        {"id": "undo_a", "type": "compensation", "handler": "h", "compensates": "a"},
    ]
    assert validate_data(spec(nodes, compensation_strategy="saga")).warnings == ()


def test_compensation_nodes_without_saga_warn() -> None:
    nodes = [task("a", compensation="undo"), {"id": "undo", "type": "compensation", "handler": "h"}]
    result = validate_data(spec(nodes))
    assert warning_codes(result) == ["COMPENSATION_UNUSED"]


# --- several problems at once, raw fallbacks, result shape --------------------------------


def test_every_problem_is_reported_not_just_the_first() -> None:
    nodes = [task("a", timeout="never"), task("a"), task("b"), {"id": "c", "type": "mystery"}]
    edges = [edge("a", "b"), edge("b", "a"), edge("b", "zz")]
    result = validate_data(spec(nodes, edges))
    assert codes(result) == ["BAD_DURATION", "CYCLE", "DUPLICATE_NODE", "SCHEMA", "UNKNOWN_NODE"]


def test_raw_checks_find_bad_expressions_when_the_schema_fails() -> None:
    nodes = [decision(condition="f(1)"), task("a", retries=-1)]
    result = validate_data(spec(nodes, [edge("d", "a", condition=True)]))
    assert codes(result) == ["BAD_EXPRESSION", "SCHEMA"]


@pytest.mark.parametrize("raw", [None, [], "text", 3])
def test_top_level_that_is_not_a_mapping(raw: object) -> None:
    assert codes(validate_data(raw)) == ["SCHEMA"]


def test_to_dict_has_exactly_the_documented_shape() -> None:
    nodes = [task("a", timeout="x"), {"id": "x", "type": "exclusive"}]
    data = validate_data(spec(nodes, [edge("x", "a", condition="output.y")])).to_dict()
    assert set(data) == {"valid", "errors", "warnings"}
    assert data["valid"] is False
    for issue in data["errors"]:
        assert set(issue) <= {"code", "message", "nodeId", "edgeId", "path"}
    json.dumps(data)


def test_valid_result_warnings_shape() -> None:
    nodes = [{"id": "x", "type": "exclusive"}, task("a")]
    data = validate_data(spec(nodes, [edge("x", "a", condition="params.go")])).to_dict()
    assert data["valid"] is True
    assert data["warnings"] == [
        {
            "code": "EXCLUSIVE_NO_DEFAULT",
            "message": data["warnings"][0]["message"],
            "nodeId": "x",
            "suggestion": "add an edge from 'x' with default: true",
        }
    ]


def test_raise_if_invalid() -> None:
    result = validate_data(spec([task("a"), task("a")]))
    with pytest.raises(SpecInvalid) as caught:
        result.raise_if_invalid("w.yaml")
    assert caught.value.details["errors"][0]["code"] == "DUPLICATE_NODE"
    assert caught.value.message.startswith("w.yaml: ")


def test_validate_spec_on_a_built_model() -> None:
    _, built = validate_text((EXAMPLES / "data-pipeline.yaml").read_text())
    assert built is not None
    assert validate_spec(built, max_nodes=3).errors[0].code == "TOO_MANY_NODES"


def test_spec_is_returned_even_when_graph_checks_fail() -> None:
    text = json.dumps(spec([task("a"), task("b")], [edge("a", "b"), edge("b", "a")]))
    result, built = validate_text(text, "x.json")
    assert not result.valid and built is not None


def test_camel_case_reference_keys_validate() -> None:
    data = {
        "name": "camel",
        "compensationStrategy": "saga",
        "nodes": [
            {
                "id": "a",
                "type": "task",
                "handler": "h",
                "compensationNode": "undo",
                "retryBackoff": {"type": "fixed"},
            },
            {"id": "undo", "type": "compensation", "handler": "h"},
        ],
    }
    result = validate_data(data)
    assert result.to_dict() == {"valid": True, "errors": [], "warnings": []}
