"""Message templates of approval nodes: text with ``{{ expression }}`` parts.

Each part is an expression of :mod:`orchestrator.spec.expressions` (the same names,
the same refusals), so a template is checked at validation time and rendered without
``eval``.  ``output`` is the node's merged input, ``params`` the run's parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from orchestrator.spec.expressions import ExpressionError, check_expression, evaluate

_PART = re.compile(r"\{\{(.*?)\}\}", re.S)


def check_template(text: str) -> None:
    """``ExpressionError`` when a part does not parse or a ``{{``/``}}`` is left open."""
    rest = _PART.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise ExpressionError("a '{{' is not closed by '}}' (or a '}}' has no '{{')")
    for match in _PART.finditer(text):
        expr = match.group(1).strip()
        if not expr:
            raise ExpressionError("an empty '{{ }}'")
        try:
            check_expression(expr)
        except ExpressionError as exc:
            raise ExpressionError(f"{{{{ {expr} }}}}: {exc.message}") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def render_template(text: str, params: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """``text`` with each part replaced by its value (a part that fails stays as written)."""

    def one(match: re.Match[str]) -> str:
        try:
            value = evaluate(
                match.group(1).strip(), output=dict(data), params=dict(params), nodes={}
            )
        except ExpressionError:
            return match.group(0)
        return _text(value)

    return _PART.sub(one, text)
