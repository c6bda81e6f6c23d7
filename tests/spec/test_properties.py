"""Properties: the validator never raises, agrees with graphlib, and shrugs off junk."""

from __future__ import annotations

import contextlib
import graphlib
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.spec.export import dump_spec
from orchestrator.spec.expressions import ExpressionError, check_expression, evaluate
from orchestrator.spec.loader import Format, load_text
from orchestrator.spec.validator import validate_data, validate_text

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NODE_IDS = [f"n{i}" for i in range(8)]


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(min_value=1, max_value=8))
    ids = NODE_IDS[:count]
    pairs = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=16))
    return {
        "name": "g",
        "nodes": [{"id": i, "type": "task", "handler": "h"} for i in ids],
        "edges": [{"source": s, "target": t} for s, t in pairs],
    }


def has_cycle(data: dict[str, Any]) -> bool:
    preds: dict[str, set[str]] = {n["id"]: set() for n in data["nodes"]}
    for e in data["edges"]:
        preds[e["target"]].add(e["source"])
    try:
        graphlib.TopologicalSorter(preds).prepare()
    except graphlib.CycleError:
        return True
    return False


@SETTINGS
@given(graphs())
def test_validator_agrees_with_graphlib_on_cycles(data: dict[str, Any]) -> None:
    result = validate_data(data)
    cycle_errors = [e for e in result.errors if e.code == "CYCLE"]
    assert bool(cycle_errors) == has_cycle(data)
    for error in cycle_errors:  # each reported cycle is a real closed walk over edges
        loop = error.message.split(": ", 1)[1].split(";")[0].split(" -> ")
        assert loop[0] == loop[-1]
        edges = {(e["source"], e["target"]) for e in data["edges"]}
        assert all((a, b) in edges for a, b in itertools.pairwise(loop))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
NODE_LIKE = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b", "c", "", 3]),
        "type": st.sampled_from(
            ["task", "decision", "exclusive", "parallel", "delay", "compensation", "x"]
        ),
    },
    optional={
        "handler": st.sampled_from(["h", "1bad", None]),
        "condition": st.sampled_from(["output.x > 1", "f()", "", True]),
        "duration": st.sampled_from(["5s", "soon", -1]),
        "cron": st.sampled_from(["* * * * *", "61 * * * *"]),
        "compensation": st.sampled_from(["a", "b", "zz"]),
        "compensates": st.sampled_from(["a", "b", "zz"]),
        "join": st.sampled_from(["all", "any", "n_of_m", "bad"]),
        "join_count": st.sampled_from([1, 2, 5, 0]),
        "timeout": JSON,
    },
)
EDGE_LIKE = st.fixed_dictionaries(
    {
        "source": st.sampled_from(["a", "b", "c", "zz"]),
        "target": st.sampled_from(["a", "b", "c", "zz"]),
    },
    optional={
        "condition": st.sampled_from([True, False, "output.ok", "f()", None]),
        "default": st.booleans(),
        "id": st.sampled_from(["e", "e2"]),
    },
)
SPEC_LIKE = st.fixed_dictionaries(
    {"nodes": st.lists(NODE_LIKE | JSON, max_size=6)},
    optional={
        "name": st.sampled_from(["w", "", None]),
        "edges": st.lists(EDGE_LIKE | JSON, max_size=6) | JSON,
        "compensation_strategy": st.sampled_from(["saga", "none", "x"]),
        "extra": JSON,
    },
)


@SETTINGS
@given(SPEC_LIKE | JSON)
def test_validator_never_raises_on_spec_like_data(raw: Any) -> None:
    result = validate_data(raw)
    data = result.to_dict()
    json.dumps(data)
    assert data["valid"] == (not data["errors"])
    for issue in data["errors"]:
        assert set(issue) <= {"code", "message", "nodeId", "edgeId", "path"}
        assert issue["message"]


@SETTINGS
@given(st.text(max_size=200))
def test_junk_text_is_parse_or_schema(text: str) -> None:
    formats: tuple[Format | None, ...] = ("yaml", "json", None)
    for fmt in formats:
        result, _ = validate_text(text, "junk", fmt)
        assert result.valid or result.errors
        if not result.valid:
            assert {e.code for e in result.errors} <= {"PARSE", "SCHEMA"}


@SETTINGS
@given(JSON)
def test_junk_json_data_is_parse_or_schema(data: Any) -> None:
    result, _ = validate_text(json.dumps(data), "x.json")
    assert not result.valid
    assert {e.code for e in result.errors} <= {"SCHEMA", "PARSE"}


@SETTINGS
@given(SPEC_LIKE)
def test_valid_specs_export_and_load_back_equal(raw: dict[str, Any]) -> None:
    _, spec = validate_text(json.dumps(raw), "x.json")
    if spec is None:
        return
    formats: tuple[Format, ...] = ("yaml", "json")
    for fmt in formats:
        assert load_text(dump_spec(spec, fmt), fmt=fmt) == spec


HOSTILE = [
    "__import__('os')",
    "__import__('os').system('id')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "a.__class__",
    "output.__class__.__mro__",
    "f(1)",
    "[x for x in y]",
    "lambda: 1",
    "9**9**9",
    "'a'*10**9",
    "'%0999999999d' % 1",
    "[[[1]*1000]*1000]*1000",
    "open('/etc/passwd')",
    "globals()",
    "(lambda: 1)()",
    "output.keys()",
    "exec('1')",
    "-" * 1000 + "1",
    "[" * 100 + "]" * 100,
]


def test_hostile_expressions_are_refused_or_fail_safely() -> None:
    for text in HOSTILE:
        with contextlib.suppress(ExpressionError):
            check_expression(text)
        try:
            value = evaluate(text, output={"a": 1}, params={}, nodes={})
        except ExpressionError:
            continue
        raise AssertionError(f"{text!r} evaluated to {value!r}")


def test_hostile_expressions_in_a_spec_are_bad_expression() -> None:
    for text in HOSTILE:
        data = {
            "name": "h",
            "nodes": [
                {"id": "d", "type": "decision", "condition": text},
                {"id": "a", "type": "task", "handler": "h"},
                {"id": "b", "type": "task", "handler": "h"},
            ],
            "edges": [
                {"source": "d", "target": "a", "condition": True},
                {"source": "d", "target": "b", "condition": False},
            ],
        }
        result = validate_data(data)
        runtime_only = text in (
            "9**9**9",
            "'a'*10**9",
            "'%0999999999d' % 1",
            "[[[1]*1000]*1000]*1000",
        )
        if runtime_only:
            continue  # allowed syntax; refused when evaluated (above)
        assert [e.code for e in result.errors] == ["BAD_EXPRESSION"], (text, result.to_dict())


@SETTINGS
@given(st.text(max_size=60))
def test_random_expressions_never_escape(text: str) -> None:
    try:
        check_expression(text)
    except ExpressionError:
        return
    with contextlib.suppress(ExpressionError):
        evaluate(text, output={"x": 1, "s": "t"}, params={}, nodes={})
