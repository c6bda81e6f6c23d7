"""Conditions of decision nodes and exclusive edges: a tiny, safe expression language.

An expression reads JSON data through three names and nothing else:

- ``output``: the merged outputs of the node's direct predecessors,
- ``params``: the run's parameters,
- ``nodes``: node id -> ``{"status": ..., "output": ...}``.

Allowed: those names, attribute and index access on the data (``output.quality``,
``output["quality"]``, ``nodes["fetch-data"].output``, ``output.items[0]``, slices),
literals (strings, numbers, ``True``/``False``/``None``, lists and tuples of them),
comparisons (``== != < <= > >= in``, ``not in``, ``is None``), ``and``/``or``/``not`` and
the arithmetic operators ``+ - * / // % **``.  Everything else is refused at validation
time: calls, lambdas, comprehensions, f-strings, any name or attribute that begins with
``_``, any name other than the three above, and texts longer than
:data:`~orchestrator.spec.model.MAX_EXPRESSION_LENGTH`.

Evaluation semantics, deliberately forgiving about *missing* data:

- attribute access on a mapping is key access: ``output.quality`` is ``output["quality"]``;
- a missing key, an index out of range, or any access on ``None`` gives ``None`` (so
  ``output.a.b == 1`` is simply false when ``a`` is absent);
- every other runtime problem (``None > 1``, a division by zero, a number that grows too
  large, ``.x`` on a string) raises :class:`ExpressionError`, which the engine turns into
  a failure of the node.

Evaluation uses ``simpleeval`` (>= 1.0.8) over JSON data only, with no functions, never
Python's ``eval``; parses are cached.  Node ids that contain ``-`` must be indexed
(``nodes["fetch-data"]``), since ``nodes.fetch-data`` reads as a subtraction.
"""

from __future__ import annotations

import ast
import math
import operator as op
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import simpleeval

from orchestrator.errors import DagqError
from orchestrator.spec.model import MAX_EXPRESSION_LENGTH

ROOT_NAMES: frozenset[str] = frozenset({"output", "params", "nodes"})
MAX_DEPTH = 32
"""Deepest nesting of the syntax tree; bounds recursion in the evaluator."""
MAX_INT_BITS = 4096
"""Largest integer an expression may compute (far beyond any JSON number)."""


class ExpressionError(DagqError, ValueError):
    """An expression that is not allowed, does not parse, or failed while evaluating."""

    code = "BAD_EXPRESSION"
    http_status = 400


_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_CMPOPS: tuple[type[ast.cmpop], ...] = (
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
)
_UNARYOPS: tuple[type[ast.unaryop], ...] = (ast.Not, ast.USub, ast.UAdd)
_REFUSED: dict[type[ast.AST], str] = {
    ast.Call: "function and method calls are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.Dict: "dict literals are not allowed; use a list",
    ast.Set: "set literals are not allowed; use a list",
    ast.Starred: "* unpacking is not allowed",
    ast.Await: "await is not allowed",
}


def _parse(text: str) -> ast.expr:
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"expression is {len(text)} characters long; the limit is {MAX_EXPRESSION_LENGTH}"
        )
    if not text.strip():
        raise ExpressionError("expression is empty")
    try:
        # SyntaxWarnings (``x is 1``, odd escapes) must not become errors under -W error.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"expression does not parse{where}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"expression does not parse: {exc}") from None
    return tree.body


def _check_tree(root: ast.expr) -> None:
    """Walk the tree iteratively and refuse anything outside the whitelist."""
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested more than {MAX_DEPTH} levels deep")
        reason = _refusal(node)
        if reason is not None:
            raise ExpressionError(reason)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _refusal(node: ast.AST) -> str | None:
    """Why ``node`` is not allowed, or ``None`` when it is."""
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            return f"names may not begin with '_' (found '{node.id}')"
        if node.id not in ROOT_NAMES:
            return f"unknown name '{node.id}': expressions can read output, params and nodes"
        return None
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            return f"attributes may not begin with '_' (found '.{node.attr}')"
        return None
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, bool | int | float | str):
            return None
        return f"literal {node.value!r} is not allowed (only strings, numbers, booleans, None)"
    if isinstance(node, ast.BinOp):
        if type(node.op) in _BINOPS:
            return None
        return f"operator {type(node.op).__name__} is not allowed (use + - * / // % **)"
    if isinstance(node, ast.UnaryOp):
        return None if isinstance(node.op, _UNARYOPS) else "operator ~ is not allowed"
    if isinstance(node, ast.Compare):
        for cmp_op, right in zip(node.ops, node.comparators, strict=True):
            if not isinstance(cmp_op, _CMPOPS):
                return "comparison operator is not allowed"
            if isinstance(cmp_op, ast.Is | ast.IsNot) and not (
                isinstance(right, ast.Constant)
                and any(right.value is v for v in (None, True, False))
            ):
                return "'is' may only compare with None, True or False; use =="
        return None
    if isinstance(
        node,
        ast.BoolOp
        | ast.Subscript
        | ast.Slice
        | ast.List
        | ast.Tuple
        | ast.Load
        | ast.And
        | ast.Or
        | ast.operator
        | ast.unaryop
        | ast.cmpop,
    ):
        return None
    return _REFUSED.get(type(node), f"{type(node).__name__} is not allowed in an expression")


@lru_cache(maxsize=4096)
def _compile(text: str) -> ast.expr:
    tree = _parse(text)
    _check_tree(tree)
    return tree


def check_expression(text: str) -> None:
    """Raise :class:`ExpressionError` with a human message unless ``text`` is allowed.

    The parse is cached, so checking at validation time makes evaluation cheap later.
    """
    _compile(text)


# --- evaluation -------------------------------------------------------------------------


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _numbers_only(symbol: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    # Repetition (``'a' * n``, ``[x] * n``) and %-formatting (``'%0999999d' % 1``) are
    # the classic ways to make a short expression allocate gigabytes: numbers only.
    def apply(a: Any, b: Any) -> Any:
        if not (isinstance(a, int | float) and isinstance(b, int | float)):
            raise ExpressionError(
                f"'{symbol}' needs two numbers, got {_json_type(a)} and {_json_type(b)}"
            )
        return fn(a, b)

    return apply


def _ordered(symbol: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    # Python's "'>' not supported between instances of 'NoneType' and 'float'" means
    # nothing to the author of a condition: name the JSON types, and what null usually is.
    def apply(a: Any, b: Any) -> Any:
        try:
            return fn(a, b)
        except TypeError:
            missing = " (a key that is not there reads as null)" if None in (a, b) else ""
            raise ExpressionError(
                f"'{symbol}' cannot compare {_json_type(a)} with {_json_type(b)}{missing}"
            ) from None

    return apply


def _power(a: Any, b: Any) -> Any:
    big = isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1
    if big and a.bit_length() * b > MAX_INT_BITS:
        raise ExpressionError(f"{a} ** {b} is too large a number")
    result = simpleeval.safe_power(a, b)
    if isinstance(result, complex):
        raise ExpressionError(f"{a} ** {b} is not a real number")
    return result


def _mult(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise ExpressionError("the product is too large a number")
    return simpleeval.safe_mult(a, b)


def _add(a: Any, b: Any) -> Any:
    number = (int, float)
    if isinstance(a, number) and isinstance(b, number):
        return a + b
    if type(a) is type(b) and isinstance(a, str | list | tuple):
        return simpleeval.safe_add(a, b)  # keeps simpleeval's length limit
    raise ExpressionError(f"'+' cannot combine {_json_type(a)} and {_json_type(b)}")


_OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    **simpleeval.DEFAULT_OPERATORS,
    ast.Add: _add,
    ast.Sub: _numbers_only("-", op.sub),
    ast.Mult: _numbers_only("*", _mult),
    ast.Div: _numbers_only("/", op.truediv),
    ast.FloorDiv: _numbers_only("//", op.floordiv),
    ast.Mod: _numbers_only("%", op.mod),
    ast.Pow: _numbers_only("**", _power),
    ast.Gt: _ordered(">", op.gt),
    ast.GtE: _ordered(">=", op.ge),
    ast.Lt: _ordered("<", op.lt),
    ast.LtE: _ordered("<=", op.le),
}


class _JsonEval(simpleeval.EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval over JSON data: attribute access is key access, missing keys give None."""

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):  # also refused by the checker; belt and braces
            raise ExpressionError(f"attributes may not begin with '_' (found '.{node.attr}')")
        base = self._eval(node.value)
        if base is None:
            return None
        if isinstance(base, dict):
            return base.get(node.attr)
        raise ExpressionError(f"cannot read '.{node.attr}' of a {_json_type(base)}")

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        base = self._eval(node.value)
        key = self._eval(node.slice)
        if base is None:
            return None
        if isinstance(base, dict):
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise ExpressionError(f"cannot use a {_json_type(key)} as an object key")
            return base.get(key)
        if isinstance(base, list | tuple | str):
            if isinstance(key, slice):
                return base[key]
            if isinstance(key, int) and not isinstance(key, bool):
                return base[key] if -len(base) <= key < len(base) else None
            raise ExpressionError(f"a {_json_type(base)} index must be an integer")
        raise ExpressionError(f"cannot index a {_json_type(base)}")

    def _eval_slice(self, node: ast.Slice) -> Any:
        parts = [None if p is None else self._eval(p) for p in (node.lower, node.upper, node.step)]
        if any(p is not None and (not isinstance(p, int) or isinstance(p, bool)) for p in parts):
            raise ExpressionError("slice bounds must be integers")
        if parts[2] == 0:
            raise ExpressionError("slice step cannot be zero")
        return slice(*parts)


def evaluate(
    text: str,
    *,
    output: dict[str, Any],
    params: dict[str, Any],
    nodes: dict[str, Any],
) -> Any:
    """Evaluate ``text`` over JSON data and return its (JSON) value.

    ``output`` is the merged output of the node's direct predecessors, ``params`` the run
    parameters, ``nodes`` maps node ids to ``{"status", "output"}``.  Missing keys give
    ``None``; any other failure raises :class:`ExpressionError` with a readable message.
    """
    tree = _compile(text)
    evaluator = _JsonEval(
        operators=_OPERATORS,
        functions={},
        names={"output": output, "params": params, "nodes": nodes},
    )
    try:
        result = evaluator.eval(text, previously_parsed=tree)
    except ExpressionError:
        raise
    except simpleeval.InvalidExpression as exc:
        raise ExpressionError(f"expression {text!r} failed: {exc}") from None
    except ZeroDivisionError:
        raise ExpressionError(f"expression {text!r} divides by zero") from None
    except OverflowError:
        raise ExpressionError(f"expression {text!r} computes too large a number") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ExpressionError(f"expression {text!r} failed: {exc}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression {text!r} is too expensive to evaluate") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise ExpressionError(f"expression {text!r} gave {result}, which is not a JSON number")
    return result
