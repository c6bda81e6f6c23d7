"""The editable properties of a node: each field's key, label and the check of what is typed.

The per-kind field lists live in :mod:`app.kinds`; the inspector draws them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cronsim import CronSim, CronSimError

from orchestrator.durations import DurationError, parse_duration
from orchestrator.spec.expressions import ExpressionError, check_expression
from orchestrator.spec.model import HANDLER_PATTERN, ID_PATTERN, MAX_EXPRESSION_LENGTH
from orchestrator.spec.templates import check_template

Check = Callable[[str], str | None]
"""Returns the problem with a typed value, or None when it is fine (empty is fine)."""


def check_duration(text: str) -> str | None:
    """A duration such as ``300ms``, ``60s``, ``1m30s``."""
    try:
        parse_duration(text)
    except DurationError as exc:
        return str(exc)
    return None


def check_timeout(text: str) -> str | None:
    """A task's timeout: a duration above zero (empty means the default)."""
    problem = check_duration(text)
    if problem is None and parse_duration(text) <= 0:
        return "must be more than 0; leave empty for the default (there is no unlimited)"
    return problem


def check_cron(text: str) -> str | None:
    """A 5-field cron expression."""
    fields = text.split()
    if len(fields) != 5:
        return "a cron expression has 5 fields: minute hour day month weekday"
    try:
        CronSim(" ".join(fields), datetime(2000, 1, 1))  # noqa: DTZ001 - syntax check only
    except (CronSimError, ValueError) as exc:
        return f"invalid cron: {exc}"
    return None


def check_expression_text(text: str) -> str | None:
    """An expression of the condition language (``output.quality > 0.95``)."""
    try:
        check_expression(text)
    except ExpressionError as exc:
        return exc.message
    return None


def check_template_text(text: str) -> str | None:
    """An approval message: text with ``{{ expression }}`` parts."""
    try:
        check_template(text)
    except ExpressionError as exc:
        return exc.message
    return None


def check_edge_condition(text: str) -> str | None:
    """``true``, ``false`` or an expression."""
    return None if text.lower() in ("true", "false") else check_expression_text(text)


MAX_PARAM_NAME = 128
"""The longest child parameter name (``SubworkflowNode.params``)."""
PROBLEMS_SHOWN = 4
"""Problems of a multi-line field listed at once (then how many more)."""


class ParamsError(ValueError):
    """What is wrong with a ``name = expression`` text, one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _param_line(number: int, line: str) -> tuple[str, str] | str:
    """One line's ``(name, expression)``, or what is wrong with it."""
    name, eq, expression = line.partition("=")
    name, expression = name.strip(), expression.strip()
    if not eq:
        colon = " (with =, not :)" if ":" in line else ""
        return f"line {number}: write name = expression{colon}"
    if not name:
        return f"line {number}: the parameter's name is missing before ="
    if len(name) > MAX_PARAM_NAME:
        return f"line {number}: the name is longer than {MAX_PARAM_NAME} characters"
    if not expression:
        return f"line {number}: {name} = what? an expression follows = (e.g. output.id)"
    if len(expression) > MAX_EXPRESSION_LENGTH:
        return f"line {number}: {name}'s expression is over {MAX_EXPRESSION_LENGTH} characters"
    try:
        check_expression(expression)
    except ExpressionError as exc:
        return f"line {number}: {name}: {exc.message}"
    return name, expression


def parse_params(text: str) -> dict[str, str]:
    """``name = expression`` lines (blank lines skipped) as a mapping, in their order.

    Raises :class:`ParamsError` listing every bad line: no ``=``, no name or expression,
    an expression that does not parse, a name given twice.
    """
    params: dict[str, str] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parsed = _param_line(number, line)
        if isinstance(parsed, str):
            problems.append(parsed)
            continue
        name, expression = parsed
        if name in first_line:
            problems.append(
                f"line {number}: {name} is given twice (first on line {first_line[name]})"
            )
            continue
        first_line[name] = number
        params[name] = expression
    if problems:
        raise ParamsError(problems)
    return params


def check_params(text: str) -> str | None:
    """``name = expression``, one a line: every bad line's problem (the first few)."""
    try:
        parse_params(text)
    except ParamsError as exc:
        shown = exc.problems[:PROBLEMS_SHOWN]
        more = len(exc.problems) - len(shown)
        return "\n".join([*shown, f"(+{more} more)"] if more else shown)
    return None


def params_text(value: object) -> str:
    """A mapping of names to expressions as the lines its field shows."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    return "\n".join(f"{name} = {expression}" for name, expression in value.items())


def pattern(regex: str, what: str) -> Check:
    compiled = re.compile(regex)
    return lambda text: None if compiled.match(text) else what


def integer(low: int, high: int) -> Check:
    def check(text: str) -> str | None:
        try:
            value = int(text)
        except ValueError:
            return "a whole number"
        return None if low <= value <= high else f"between {low} and {high}"

    return check


@dataclass(frozen=True, slots=True)
class Field:
    """One editable property: its key, label, check and how the typed text converts."""

    key: str
    label: str
    check: Check | None = None
    kind: str = "text"
    """``text``, ``int``, ``edge`` (true/false/expression), ``tags`` (comma list),
    ``bool`` (a choice of ``no``/``yes``), ``params`` (``name = expression`` lines, a
    multi-line field)."""
    placeholder: str = ""
    choices: tuple[str, ...] = ()
    """When set, the value is picked from these (a drop-down), never typed."""


ID = Field("id", "Id", pattern(ID_PATTERN, "letters, digits, _ and - only"))
NAME = Field("name", "Name", placeholder="(shown on the canvas)")
HANDLER = Field("handler", "Handler", pattern(HANDLER_PATTERN, "a handler name"), "handler")
RETRIES = Field("retries", "Retries", integer(0, 100), "int", "default")
LIMITS = (
    Field("timeout", "Timeout", check_timeout, placeholder="default 300s (e.g. 30s)"),
    RETRIES,
    Field("priority", "Priority", integer(0, 10), "int", "the run's"),
)
"""How long, how often and how urgently a runnable kind's work runs."""
RUNNABLE = (HANDLER, *LIMITS)
"""The fields every runnable kind (task, compensation) has."""
CHILD_RUN = (
    Field("workflow", "Workflow", pattern(ID_PATTERN, "a workflow id")),
    Field("version", "Version", integer(1, 1_000_000), "int", "newest"),
    Field(
        "params",
        "Child parameters (name = expression)",
        check_params,
        "params",
        "one a line, e.g. order_id = output.id (Tab applies)",
    ),
)
"""Which stored workflow a child run starts, and with what: a sub-workflow node's, and a
map node's when each item runs a sub-workflow instead of a handler."""

CONDITION_SYNTAX = "e.g. output.quality > 0.95"
"""What a condition field shows while empty: the language, by example."""
EDGE_FIELDS = (
    Field(
        "condition",
        "when",
        check_edge_condition,
        "edge",
        "true, false or e.g. output.x > 1",
    ),
    Field("label", "label", placeholder="shown on the arrow"),
    Field("default", "default edge", kind="bool", choices=("no", "yes")),
)
"""What the inspector edits on each outgoing edge."""
