"""Run parameters checked against a workflow's declared ``parameters``.

Every check is linear in the size of the value: patterns run on RE2
(:mod:`orchestrator.spec.patterns`), never on a backtracking engine, and messages quote
at most a short prefix of a value (a 1 MB string must not become a 1 MB error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.errors import ParameterError
from orchestrator.spec.expressions import ExpressionError, evaluate
from orchestrator.spec.model import Parameter, WorkflowSpec
from orchestrator.spec.patterns import PatternError, full_match

_SHOWN_CHARS = 80

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _any(value: Any) -> Any:
    # isinstance() with a tuple of types narrows to ``object``; keep comparisons typed as Any.
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}... ({len(text)} chars)"


def parameter_problem(name: str, decl: Parameter, value: Any) -> str | None:
    """Why ``value`` does not fit the declaration of parameter ``name`` (type, enum, range,
    pattern), or None; what a run's start checks, for a form to check as it is filled."""
    return _problem(name, decl, value)


def _problem(name: str, decl: Parameter, value: Any) -> str | None:
    expected = _JSON_TYPES[decl.type]
    value = _any(value)
    is_bool = isinstance(value, bool)
    if not isinstance(value, expected) or (is_bool and decl.type in ("number", "integer")):
        return f"parameter {name!r} must be {decl.type}, got {type(value).__name__} {_shown(value)}"
    value = _any(value)
    if decl.enum is not None and value not in decl.enum:
        return f"parameter {name!r} must be one of {_shown(decl.enum)}, got {_shown(value)}"
    if decl.type in ("number", "integer"):
        if decl.minimum is not None and value < decl.minimum:
            return f"parameter {name!r} must be >= {decl.minimum:g}, got {value!r}"
        if decl.maximum is not None and value > decl.maximum:
            return f"parameter {name!r} must be <= {decl.maximum:g}, got {value!r}"
    if decl.type == "string" and decl.pattern is not None:
        try:
            if not full_match(decl.pattern, value):
                return f"parameter {name!r} must match {decl.pattern!r}, got {_shown(value)}"
        except PatternError as exc:
            # Saved before patterns were checked at save time: say so rather than guess.
            return f"parameter {name!r} has a pattern this server cannot use: {exc}"
    return None


def resolve_params(spec: WorkflowSpec, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` completed with defaults and checked; ``ParameterError`` lists every problem.

    Undeclared parameters are passed through untouched (handlers may use them);
    declared ones must have the declared type.
    """
    if given is not None and not isinstance(given, Mapping):
        raise ParameterError("parameters must be a JSON object")
    params: dict[str, Any] = dict(given or {})
    problems: list[str] = []
    for name, decl in spec.parameters.items():
        if name not in params or params[name] is None:
            if decl.default is not None:
                params[name] = decl.default
                continue
            if decl.required:
                problems.append(f"parameter {name!r} is required ({decl.type})")
            params.pop(name, None)
            continue
        problem = _problem(name, decl, params[name])
        if problem:
            problems.append(problem)
    if not problems:  # a declared type must hold before a validation can mean anything
        problems = [p for p in (_validation(n, d, params) for n, d in spec.parameters.items()) if p]
    if problems:
        raise ParameterError("; ".join(problems), details={"problems": problems})
    return params


def _validation(name: str, decl: Parameter, params: dict[str, Any]) -> str | None:
    """Why the parameter's ``validation`` expression does not hold, or None."""
    if decl.validation is None or name not in params:  # an absent optional one is fine
        return None
    try:
        held = evaluate(decl.validation, output={}, params=params, nodes={})
    except ExpressionError as exc:
        return f"parameter {name!r}: its validation {decl.validation!r} failed: {exc.message}"
    if not held:
        got = _shown(params.get(name))
        return f"parameter {name!r} fails its validation {decl.validation!r} (got {got})"
    return None
