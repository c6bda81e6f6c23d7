"""Loading YAML/JSON into the model, the PARSE/SCHEMA errors, and export round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from orchestrator.errors import BadRequest, NotFound, SpecInvalid
from orchestrator.spec.export import dump_spec
from orchestrator.spec.loader import MAX_DOCUMENT_BYTES, load_file, load_text, parse_document
from orchestrator.spec.model import WorkflowSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def errors_of(text: str, **kwargs: object) -> list[dict[str, str]]:
    with pytest.raises(SpecInvalid) as caught:
        load_text(text, **kwargs)  # type: ignore[arg-type]
    errors: list[dict[str, str]] = caught.value.details["errors"]
    return errors


def test_seed_example_1_loads_as_the_design_writes_it() -> None:
    spec = load_file(EXAMPLES / "data-pipeline.yaml")
    assert spec.id == "data-processing-pipeline"
    assert [n.id for n in spec.nodes][:2] == ["fetch_data", "validate"]
    assert spec.edges[3].condition is True and spec.edges[4].condition is False
    assert spec.nodes[0].type == "task" and spec.nodes[0].timeout == 60.0


def test_seed_example_2_has_no_edges_and_runs_in_order() -> None:
    spec = load_file(EXAMPLES / "order-processing.yaml")
    assert spec.edges == []
    assert [(e.source, e.target) for e in spec.flow_edges()] == [
        ("reserve_inventory", "charge_payment"),
        ("charge_payment", "ship_order"),
    ]


def test_json_and_yaml_give_the_same_model() -> None:
    from_yaml = load_file(EXAMPLES / "data-pipeline.yaml")
    data = yaml.safe_load((EXAMPLES / "data-pipeline.yaml").read_text())
    assert load_text(json.dumps(data), filename="x.json") == from_yaml
    assert load_text(json.dumps(data)) == from_yaml  # format sniffed from the leading {


def test_yaml_syntax_error_has_line_and_column() -> None:
    (issue,) = errors_of("name: x\nnodes:\n  - id: a\n   type: task\n")
    assert issue["code"] == "PARSE"
    assert "line 4, column 4" in issue["message"]


def test_json_syntax_error_has_line_and_column() -> None:
    (issue,) = errors_of('{\n  "name": "x",\n  "nodes": [,]\n}', filename="w.json")
    assert issue["code"] == "PARSE"
    assert "line 3, column 13" in issue["message"]


def test_spec_invalid_message_names_the_file() -> None:
    with pytest.raises(SpecInvalid) as caught:
        load_text("a: [", filename="flows/x.yaml")
    assert caught.value.message.startswith("flows/x.yaml: line ")


def test_schema_errors_carry_path_and_node_id() -> None:
    text = (
        "name: x\nnodes:\n  - id: a\n    type: task\n    handler: h\n"
        "    retry_policy: {initial_interval: soon}\n"
        "  - {id: b, type: task, handler: h, colour: red}\n"
    )
    issues = errors_of(text)
    assert [(i["code"], i.get("nodeId"), i.get("path")) for i in issues] == [
        ("BAD_DURATION", "a", "nodes[0].retry_policy.initial_interval"),
        ("SCHEMA", "b", "nodes[1].colour"),
    ]
    assert "unknown field 'colour'" in issues[1]["message"]


def test_unknown_node_type_lists_the_types() -> None:
    (issue,) = errors_of("name: x\nnodes: [{id: a, type: job}]")
    assert issue["code"] == "SCHEMA" and issue["nodeId"] == "a"
    assert "'job'" in issue["message"] and "decision" in issue["message"]


def test_missing_name_and_id_is_one_error() -> None:
    (issue,) = errors_of("nodes: [{id: a, type: task, handler: h}]")
    assert issue["path"] == "name" and "name" in issue["message"]


def test_edge_condition_of_the_wrong_type_is_one_error() -> None:
    (issue,) = errors_of(
        "name: x\nnodes: [{id: a, type: task, handler: h}]\n"
        "edges: [{source: a, target: a, condition: [1]}]"
    )
    assert issue["path"] == "edges[0].condition" and issue["edgeId"] == "a->a"


def test_oversized_document_is_refused_before_parsing() -> None:
    (issue,) = errors_of("#" * (MAX_DOCUMENT_BYTES + 1))
    assert issue["code"] == "PARSE" and "2 MiB" in issue["message"]


def test_billion_laughs_is_a_parse_error() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    (issue,) = errors_of("\n".join(lines))
    assert issue["code"] == "PARSE" and "aliases" in issue["message"]


def test_self_referencing_alias_is_a_parse_error() -> None:
    (issue,) = errors_of("name: &x [*x]")
    assert issue["code"] == "PARSE"


def test_yaml_never_builds_python_objects() -> None:
    (issue,) = errors_of("name: !!python/object/apply:os.system ['true']")
    assert issue["code"] == "PARSE"


def test_moderate_aliases_are_fine() -> None:
    text = (
        "name: x\nnodes:\n"
        "  - &t {id: a, type: task, handler: h, retry_policy: &rp {backoff: fixed}}\n"
        "  - {id: b, type: task, handler: h, retry_policy: *rp}\n"
    )
    spec = load_text(text)
    assert spec.nodes[1].type == "task" and spec.nodes[1].retry_policy is not None


def test_yaml_timestamps_become_strings() -> None:
    raw = parse_document("when: 2024-01-01\nat: 2024-01-01T10:00:00Z")
    assert raw == {"when": "2024-01-01", "at": "2024-01-01T10:00:00+00:00"}


def test_nan_and_binary_are_not_json() -> None:
    for text in ("x: .nan", "x: !!binary aGk=", "x: !!set {a, b}"):
        with pytest.raises(SpecInvalid) as caught:
            parse_document(text)
        assert caught.value.details["errors"][0]["code"] == "PARSE"
    with pytest.raises(SpecInvalid):
        parse_document('{"x": NaN}', fmt="json")


def test_deep_nesting_is_a_parse_error() -> None:
    with pytest.raises(SpecInvalid):
        parse_document("[" * 150 + "]" * 150, fmt="json")
    with pytest.raises(SpecInvalid):
        parse_document("[" * 150 + "]" * 150, fmt="yaml")


def test_a_yaml_flow_mapping_is_not_mistaken_for_json() -> None:
    assert load_text("{name: x, nodes: [{id: a, type: task, handler: h}]}").name == "x"


def test_load_file_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_file(tmp_path / "missing.yaml")
    with pytest.raises(BadRequest):
        load_file(tmp_path)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"name: \xff\xfe")
    with pytest.raises(SpecInvalid) as caught:
        load_file(binary)
    assert "UTF-8" in caught.value.details["errors"][0]["message"]


def test_load_file_reads_json_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{"name": "J", "nodes": [{"id": "a", "type": "task", "handler": "h"}]}')
    assert load_file(path).id == "j"


# --- export ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data-pipeline.yaml", "order-processing.yaml"])
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_loads_back_equal(name: str, fmt: str) -> None:
    spec = load_file(EXAMPLES / name)
    text = dump_spec(spec, fmt)  # type: ignore[arg-type]
    assert load_text(text, fmt=fmt) == spec  # type: ignore[arg-type]


def test_export_is_clean_and_ordered() -> None:
    spec = load_text(
        "name: P\nversion: 2\ntags: [a]\nnodes:\n"
        "  - {position: {x: 3, y: 4}, handler: h, id: t, type: task, timeout: 90, priority: 5}\n"
        "  - {id: w, type: delay, duration: 1.5}\n"
        "edges:\n  - {target: w, source: t}\n  - {id: keep, source: t, target: w, label: again}\n"
    )
    data = yaml.safe_load(dump_spec(spec))
    assert list(data) == ["id", "name", "version", "tags", "nodes", "edges"]
    assert data["nodes"][0] == {
        "id": "t",
        "type": "task",
        "handler": "h",
        "timeout": "1m30s",
        "priority": 5,  # set, so kept: unset (the run's priority) is not 5
        "position": {"x": 3.0, "y": 4.0},
    }
    assert data["nodes"][1] == {"id": "w", "type": "delay", "duration": "1.5s"}
    assert data["edges"] == [
        {"source": "t", "target": "w"},
        {"id": "keep", "source": "t", "target": "w", "label": "again"},
    ]


def test_export_of_camel_case_input_is_snake_case() -> None:
    spec = WorkflowSpec.model_validate(
        {
            "name": "c",
            "compensationStrategy": "saga",
            "nodes": [
                {
                    "id": "a",
                    "type": "task",
                    "handler": "h",
                    "retryPolicy": {"initialInterval": "2s"},
                }
            ],
        }
    )
    text = dump_spec(spec, "json")
    assert "retry_policy" in text and "initial_interval" in text and "Interval" not in text
    assert load_text(text) == spec


def test_export_keeps_derived_edge_ids_only_when_needed() -> None:
    spec = load_text(
        "name: x\nnodes: [{id: a, type: task, handler: h}, {id: b, type: task, handler: h}]\n"
        "edges: [{source: a, target: b}, {source: a, target: b}]"
    )
    assert [e.id for e in spec.edges] == ["a->b", "a->b#2"]
    assert load_text(dump_spec(spec)) == spec
