"""Templates as pure data: placeholders, values, blame, the gallery, templatize."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.errors import ParameterError
from orchestrator.spec.template import (
    Path,
    TemplateSpec,
    blame,
    gallery,
    parse_path,
    placeholders,
    preview_values,
    render,
    resolve_values,
)
from orchestrator.spec.templatize import candidates, templatize
from orchestrator.spec.validator import validate_and_build

WORKFLOW: dict[str, Any] = {
    "name": "{{ title }} ({{ workflow_id }})",
    "nodes": [
        {"id": "{{ step }}", "type": "task", "handler": "{{ handler }}", "retries": "{{ n }}",
         "input": {"{{ key }}": "x {{ n }} \\{{ literal }}", "on": "{{ flag }}"}},
        {"id": "gate", "type": "decision", "condition": "output.score > {{ bar }}"},
        {"id": "yes", "type": "task", "handler": "h"},
        {"id": "no", "type": "task", "handler": "h"},
    ],
    "edges": [
        {"source": "{{ step }}", "target": "gate"},
        {"source": "gate", "target": "yes", "condition": True},
        {"source": "gate", "target": "no", "condition": False},
    ],
}  # fmt: skip
PARAMS: dict[str, Any] = {
    "title": {"type": "string", "default": "T"},
    "step": {"type": "id", "default": "work"},
    "handler": {"type": "handler"},
    "n": {"type": "integer", "default": 2, "minimum": 0, "maximum": 5},
    "key": {"type": "string", "default": "k"},
    "flag": {"type": "boolean", "default": False},
    "bar": {"type": "number", "default": 0.5},
}


def _template() -> TemplateSpec:
    return TemplateSpec.model_validate(
        {"id": "t", "name": "T", "parameters": PARAMS, "workflow": WORKFLOW}
    )


def test_render_keeps_types_interpolates_and_records_where() -> None:
    values = resolve_values(_template(), {"handler": "doWork", "n": "3", "flag": "true"})
    data, used = render(WORKFLOW, {**values, "workflow_id": "wf"})
    node = data["nodes"][0]
    assert data["name"] == "T (wf)"
    assert (node["id"], node["handler"], node["retries"]) == ("work", "doWork", 3)
    assert node["input"] == {"k": "x 3 {{ literal }}", "on": True}
    assert data["nodes"][1]["condition"] == "output.score > 0.5"
    assert ("nodes", 0, "retries") in used["n"] and ("edges", 0, "source") in used["step"]
    assert placeholders(WORKFLOW)[:3] == ["title", "workflow_id", "step"]
    result, _ = validate_and_build({**data, "id": "wf"})
    assert result.valid, result.to_dict()


def test_values_are_checked_naming_each_parameter() -> None:
    with pytest.raises(ParameterError) as exc:
        resolve_values(_template(), {"n": 9, "handler": "a b", "extra": 1})
    problems = exc.value.details["problems"]
    assert exc.value.details["parameters"] == ["extra", "handler", "n"]
    assert any("no parameter 'extra'" in p for p in problems)
    assert any("'n' (integer) must be at most 5" in p for p in problems)
    with pytest.raises(ParameterError, match="'handler' \\(handler\\) needs a value"):
        resolve_values(_template(), {})


def test_undeclared_placeholders_and_bad_defaults_are_refused() -> None:
    with pytest.raises(ValidationError, match="declares no parameter 'oops'"):
        TemplateSpec.model_validate(
            {"id": "t", "name": "T", "workflow": {"name": "{{ oops }}", "nodes": []}}
        )
    with pytest.raises(ValidationError, match="the default of parameter 'd'"):
        TemplateSpec.model_validate(
            {"id": "t", "name": "T", "parameters": {"d": {"type": "duration", "default": "x"}},
             "workflow": {"name": "{{ d }}"}}
        )  # fmt: skip


def test_blame_finds_the_parameter_behind_a_path() -> None:
    used: dict[str, list[Path]] = {
        "step": [("nodes", 0, "id"), ("edges", 0, "source")],
        "n": [("nodes", 0, "retries")],
    }
    assert blame(used, parse_path("nodes[0].retries")) == ["n"]
    assert blame(used, parse_path("edges[0]")) == ["step"]
    assert blame(used, parse_path("nodes[0]")) == ["step", "n"]
    assert blame(used, parse_path("nodes[3].handler")) == ["step", "n"]  # nearest: nodes
    assert blame(used, ("config",)) == []


@pytest.mark.parametrize("template", gallery(), ids=lambda t: t.id)
def test_every_shipped_template_makes_a_valid_workflow_with_its_defaults(
    template: TemplateSpec,
) -> None:
    data, _ = render(template.workflow, preview_values(template, "made"))
    data.pop("schedules", None)
    result, _ = validate_and_build({**data, "id": "made"})
    assert result.valid, result.to_dict()
    assert all(p.description for p in template.parameters.values())


def test_templatize_makes_the_same_workflow_with_its_defaults() -> None:
    workflow = {
        "id": "orig",
        "name": "Orig {{ not a placeholder }}",
        "nodes": [
            {"id": "a", "type": "task", "handler": "fetch", "timeout": "30s", "retries": 2},
            {"id": "w", "type": "delay", "duration": "5s"},
            {"id": "d", "type": "decision", "condition": "output.ok == true"},
        ],
        "edges": [{"source": "a", "target": "w"}, {"source": "w", "target": "d"}],
    }
    offered = candidates(workflow)
    assert [c.param for c in offered] == [
        "title", "a_handler", "a_timeout", "a_retries", "w_duration", "d_condition"
    ]  # fmt: skip
    template = templatize(workflow, offered[1:], template_id="mine", name="Mine")
    assert template.parameters["a_retries"].type == "integer"
    values = resolve_values(template, {})
    data, _ = render(template.workflow, {**values, "workflow_id": "orig"})
    assert data == {k: v for k, v in workflow.items() if k != "id"}
    swapped = resolve_values(template, {"a_handler": "other", "w_duration": "1m"})
    data, _ = render(template.workflow, {**swapped, "workflow_id": "x"})
    assert data["nodes"][0]["handler"] == "other" and data["nodes"][1]["duration"] == "1m"
