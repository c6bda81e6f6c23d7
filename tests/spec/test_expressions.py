"""The expression language: what it allows, what it refuses, and how it evaluates."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.spec.expressions import ExpressionError, check_expression, evaluate
from orchestrator.spec.model import MAX_EXPRESSION_LENGTH

DATA: dict[str, Any] = {
    "output": {"quality": 0.97, "tags": ["a", "b"], "user": {"name": "ada", "age": 36}, "n": 4},
    "params": {"region": "eu", "limit": 10},
    "nodes": {"fetch-data": {"status": "completed", "output": {"rows": 120}}},
}


def ev(text: str) -> Any:
    return evaluate(text, output=DATA["output"], params=DATA["params"], nodes=DATA["nodes"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("output.quality > 0.95", True),
        ("output['quality'] <= 0.5", False),
        ("output.user.name == 'ada' and output.user.age >= 18", True),
        ("params.region in ['eu', 'us']", True),
        ("'c' not in output.tags", True),
        ("not output.missing", True),
        ("output.missing is None", True),
        ("output.missing.deeper", None),
        ("output.tags[5]", None),
        ("output.tags[-1]", "b"),
        ("output.tags[0:1]", ["a"]),
        ("nodes['fetch-data'].output.rows / 12", 10.0),
        ("nodes['fetch-data'].status == 'completed'", True),
        ("(output.n + 2) * 3 - 1", 17),
        ("output.n ** 2 % 5", 1),
        ("output.n // 3", 1),
        ("-output.n", -4),
        ("output.user.name + '!'", "ada!"),
        ("output.tags + ['c']", ["a", "b", "c"]),
        ("params.limit > output.n > 1", True),
        ("output.quality > 0.9 or 1 / 0", True),  # short-circuits
    ],
)
def test_evaluates_over_json_data(text: str, expected: Any) -> None:
    check_expression(text)
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("__import__('os')", "calls"),
        ("().__class__", "'_'"),
        ("output.__class__", "'_'"),
        ("output._secret", "'_'"),
        ("_x", "'_'"),
        ("f(1)", "calls"),
        ("output.keys()", "calls"),
        ("[x for x in output]", "comprehensions"),
        ("lambda: 1", "lambda"),
        ("f'{output}'", "f-strings"),
        ("1 if output else 2", "conditional"),
        ("{'a': 1}", "dict"),
        ("{1, 2}", "set"),
        ("x > 1", "unknown name 'x'"),
        ("open", "unknown name"),
        ("1 | 2", "operator"),
        ("~1", "operator"),
        ("b'x'", "literal"),
        ("output > ", "does not parse"),
        ("a = 1", "does not parse"),
        ("", "empty"),
        ("output.n is 1", "'is'"),
        ("-" * 100 + "1", "nested"),
        ("(y := 1)", "not allowed"),
    ],
)
def test_refused_at_check_time(text: str, words: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        check_expression(text)
    assert words in caught.value.message
    with pytest.raises(ExpressionError):
        ev(text)


def test_length_cap() -> None:
    check_expression("1" * MAX_EXPRESSION_LENGTH)
    with pytest.raises(ExpressionError, match="limit"):
        check_expression("1" * (MAX_EXPRESSION_LENGTH + 1))


def test_non_string_is_refused() -> None:
    with pytest.raises(ExpressionError):
        check_expression(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("9**9**9", "too large"),
        ("2 ** 100000", "too large"),
        ("'a' * 10**9", "two numbers"),
        ("[1] * 100000", "two numbers"),
        ("'%0999999999d' % 1", "two numbers"),
        ("10.0 ** 400", "too large"),
        ("(-8) ** 0.5", "not a real number"),
        ("1 / 0", "divides by zero"),
        ("output.missing > 1", "cannot compare null with number"),
        ("output.user.name.upper", "cannot read '.upper' of a string"),
        ("output.tags['x']", "index must be an integer"),
        ("output.n[0]", "cannot index a number"),
        ("output[output.tags]", "object key"),
        ("output.user + 1", "'+' cannot combine"),
        ("1e308 * 10", "not a JSON number"),
    ],
)
def test_runtime_errors_are_expression_errors(text: str, words: str) -> None:
    check_expression(text)  # all of these are allowed syntax: they fail on the data
    with pytest.raises(ExpressionError) as caught:
        ev(text)
    assert words in caught.value.message


def test_expression_error_is_a_value_error_and_a_dagq_error() -> None:
    with pytest.raises(ValueError):
        check_expression("f()")
    try:
        check_expression("f()")
    except ExpressionError as exc:
        assert exc.code == "BAD_EXPRESSION"
        assert exc.to_dict()["error"] == "BAD_EXPRESSION"


def test_names_are_only_json_data() -> None:
    # the evaluator never sees anything but the three dicts it is given
    assert ev("output") == DATA["output"]
    assert ev("params.region") == "eu"
    assert evaluate("output.x", output={}, params={}, nodes={}) is None
    # attribute access is key access, even for names of dict methods
    assert evaluate("output.format", output={"format": "csv"}, params={}, nodes={}) == "csv"
    assert evaluate("output.keys", output={}, params={}, nodes={}) is None
