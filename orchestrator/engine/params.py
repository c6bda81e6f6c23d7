"""Run parameters checked against a workflow's declared ``parameters``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import ParameterError
from orchestrator.spec.model import Parameter, WorkflowSpec

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


def _problem(name: str, decl: Parameter, value: Any) -> str | None:
    expected = _JSON_TYPES[decl.type]
    value = _any(value)
    is_bool = isinstance(value, bool)
    if not isinstance(value, expected) or (is_bool and decl.type in ("number", "integer")):
        return f"parameter {name!r} must be {decl.type}, got {type(value).__name__} {value!r}"
    value = _any(value)
    if decl.enum is not None and value not in decl.enum:
        return f"parameter {name!r} must be one of {decl.enum}, got {value!r}"
    if decl.type in ("number", "integer"):
        if decl.minimum is not None and value < decl.minimum:
            return f"parameter {name!r} must be >= {decl.minimum:g}, got {value!r}"
        if decl.maximum is not None and value > decl.maximum:
            return f"parameter {name!r} must be <= {decl.maximum:g}, got {value!r}"
    if decl.type == "string" and decl.pattern is not None:
        try:
            if not re.fullmatch(decl.pattern, value):
                return f"parameter {name!r} must match {decl.pattern!r}, got {value!r}"
        except re.error:
            return f"parameter {name!r} has an invalid pattern {decl.pattern!r} in the workflow"
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
    if problems:
        raise ParameterError("; ".join(problems), details={"problems": problems})
    return params
