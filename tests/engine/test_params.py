"""Run parameters: types, required, defaults, enum, bounds and patterns; every problem listed."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engine.params import resolve_params
from orchestrator.errors import DagqError, ParameterError
from orchestrator.spec.model import Parameter, WorkflowSpec

SPEC = WorkflowSpec.model_validate(
    {
        "id": "wf",
        "name": "wf",
        "nodes": [{"id": "a", "type": "task", "handler": "h"}],
        "parameters": {
            "source": {"type": "string", "required": True},
            "limit": {"type": "integer", "default": 10, "minimum": 1, "maximum": 100},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "dry_run": {"type": "boolean", "default": False},
            "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
            "options": {"type": "object"},
            "tags": {"type": "array"},
            "code": {"type": "string", "pattern": "[A-Z]{3}-[0-9]+"},
        },
    }
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"source": "s3"}, {"source": "s3", "limit": 10, "dry_run": False, "mode": "safe"}),
        (
            {"source": "s3", "limit": 100, "ratio": 0, "dry_run": True, "mode": "fast"},
            {"source": "s3", "limit": 100, "ratio": 0, "dry_run": True, "mode": "fast"},
        ),
        (
            {"source": "s3", "ratio": 0.5, "limit": None},
            {"source": "s3", "ratio": 0.5, "limit": 10, "dry_run": False, "mode": "safe"},
        ),
        (
            {"source": "s3", "ratio": 1},
            {"source": "s3", "ratio": 1, "limit": 10, "dry_run": False, "mode": "safe"},
        ),
        (
            {"source": "s3", "options": {"a": 1}, "tags": ["x"], "code": "ABC-12"},
            {
                "source": "s3",
                "options": {"a": 1},
                "tags": ["x"],
                "code": "ABC-12",
                "limit": 10,
                "dry_run": False,
                "mode": "safe",
            },
        ),
        # Undeclared parameters pass through untouched (handlers may read them).
        (
            {"source": "s3", "extra": [1]},
            {"source": "s3", "extra": [1], "limit": 10, "dry_run": False, "mode": "safe"},
        ),
    ],
)
def test_good_parameters_are_completed_with_defaults(
    given: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert resolve_params(SPEC, given) == expected


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({}, "'source' is required"),
        ({"source": None}, "'source' is required"),
        ({"source": 3}, "'source' must be string"),
        ({"source": "s", "limit": "10"}, "'limit' must be integer"),
        ({"source": "s", "limit": 2.5}, "'limit' must be integer"),
        ({"source": "s", "limit": True}, "'limit' must be integer"),  # a bool is not a number
        ({"source": "s", "ratio": False}, "'ratio' must be number"),
        ({"source": "s", "limit": 0}, "'limit' must be >= 1"),
        ({"source": "s", "limit": 101}, "'limit' must be <= 100"),
        ({"source": "s", "ratio": 1.5}, "'ratio' must be <= 1"),
        ({"source": "s", "ratio": -0.1}, "'ratio' must be >= 0"),
        ({"source": "s", "dry_run": "yes"}, "'dry_run' must be boolean"),
        ({"source": "s", "mode": "turbo"}, "'mode' must be one of ['fast', 'safe']"),
        ({"source": "s", "options": [1]}, "'options' must be object"),
        ({"source": "s", "tags": "x"}, "'tags' must be array"),
        ({"source": "s", "code": "abc-1"}, "'code' must match"),
        ({"source": "s", "code": "ABC-1x"}, "'code' must match"),  # the whole string
    ],
)
def test_each_bad_parameter_is_refused_with_a_clear_message(
    given: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ParameterError) as info:
        resolve_params(SPEC, given)
    assert problem in info.value.message
    assert info.value.code == "BAD_PARAMETERS"
    assert isinstance(info.value, DagqError)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ParameterError) as info:
        resolve_params(SPEC, {"limit": 0, "mode": "turbo", "tags": {}})
    problems = info.value.details["problems"]
    assert len(problems) == 4
    for name in ("source", "limit", "mode", "tags"):
        assert any(f"'{name}'" in p for p in problems)
        assert f"'{name}'" in info.value.message


@pytest.mark.parametrize("given", [[1, 2], "source=s3", 42])
def test_parameters_that_are_not_an_object_are_refused(given: Any) -> None:
    with pytest.raises(ParameterError, match="JSON object"):
        resolve_params(SPEC, given)


def test_no_parameters_given_for_a_spec_without_required_ones() -> None:
    spec = WorkflowSpec.model_validate(
        {"id": "w", "name": "w", "nodes": [{"id": "a", "type": "task", "handler": "h"}]}
    )
    assert resolve_params(spec, None) == {}


def test_a_broken_pattern_in_the_workflow_is_reported_not_raised() -> None:
    # Saving refuses it now (BAD_PATTERN); a spec stored before that check still answers
    # with a message instead of an exception.
    spec = WorkflowSpec.model_validate(
        {"id": "w", "name": "w", "nodes": [{"id": "a", "type": "task", "handler": "h"}]}
    )
    stored = spec.model_copy(
        update={"parameters": {"p": Parameter.model_construct(type="string", pattern="(")}}
    )
    with pytest.raises(ParameterError, match="pattern this server cannot use: missing \\)"):
        resolve_params(stored, {"p": "x"})


def test_a_catastrophic_pattern_costs_linear_time() -> None:
    # (a+)+$ against "aaa...b" is exponential for a backtracking engine: with Python's re,
    # 54 characters took 21.9 s.  RE2 answers 100,000 characters at once.
    spec = WorkflowSpec.model_validate(
        {
            "id": "w",
            "name": "w",
            "nodes": [{"id": "a", "type": "task", "handler": "h"}],
            "parameters": {"p": {"type": "string", "pattern": "(a+)+$"}},
        }
    )
    with pytest.raises(ParameterError, match="must match"):
        resolve_params(spec, {"p": "a" * 100_000 + "b"})
    assert resolve_params(spec, {"p": "a" * 100_000}) == {"p": "a" * 100_000}


def test_a_huge_wrong_value_is_quoted_short() -> None:
    with pytest.raises(ParameterError) as info:
        resolve_params(SPEC, {"source": "s", "limit": "9" * 100_000})
    assert len(info.value.message) < 300
    assert "chars)" in info.value.message
