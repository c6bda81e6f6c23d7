"""Workflow templates: a workflow with ``{{ name }}`` placeholders and declared parameters.

A template's ``workflow`` is a workflow spec (YAML/JSON) in which any string may hold
placeholders: node ids, names, handlers, inputs, durations, conditions, edge ends, keys.
A string that is one placeholder and nothing else takes the value with its type
(``retries: "{{ retries }}"`` becomes ``3``); a placeholder inside other text is written
into it (``"output.amount > {{ limit }}"``). ``\\{{`` writes a literal ``{{``.
``{{ workflow_id }}`` is always there: the id of the workflow being made.

:func:`render` fills the placeholders and records where each parameter went, so that
:mod:`orchestrator.service.templates` can say which parameter broke the spec and why.
Pure: no I/O but reading the shipped gallery (:func:`gallery`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from orchestrator.durations import DurationError, parse_duration
from orchestrator.errors import ParameterError
from orchestrator.spec.model.base import HANDLER_PATTERN, ID_PATTERN, NodeId, _Model

PLACEHOLDER = re.compile(r"(?<!\\)\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_WHOLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_ESCAPED = re.compile(r"\\\{\{")
PARAM_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
BUILTIN = "workflow_id"
"""The placeholder every template has: the id of the workflow being made."""
_SHOWN = 60

ParamType = Literal[
    "string", "integer", "number", "boolean", "handler", "duration", "cron", "id"
]  # fmt: skip
PARAM_TYPES: tuple[str, ...] = (
    "string", "integer", "number", "boolean", "handler", "duration", "cron", "id"
)  # fmt: skip

Path = tuple[str | int, ...]


class TemplateParameter(_Model):
    """One declared template parameter."""

    type: ParamType = "string"
    description: str = Field(default="", max_length=1024)
    default: Any = None
    """Used when no value is given; without one the parameter is required."""
    enum: list[Any] | None = Field(default=None, max_length=200)
    minimum: float | None = None
    maximum: float | None = None


class TemplateSpec(_Model):
    """A template: its id, words, parameters and the workflow with placeholders."""

    id: NodeId
    name: str = Field(min_length=1, max_length=256)
    description: str = Field(default="", max_length=4096)
    tags: list[str] = Field(default_factory=list, max_length=50)
    version: int | None = Field(default=None, ge=1)
    parameters: dict[str, TemplateParameter] = Field(default_factory=dict, max_length=100)
    workflow: dict[str, Any]

    @model_validator(mode="after")
    def _placeholders_are_declared(self) -> TemplateSpec:
        bad = [n for n in self.parameters if not re.match(PARAM_NAME, n) or n == BUILTIN]
        if bad:
            raise ValueError(
                f"parameter name {bad[0]!r} is not allowed: use letters, digits and '_' "
                f"(not starting with a digit), and not {BUILTIN!r}, which is built in"
            )
        used = set(placeholders(self.workflow))
        unknown = sorted(used - set(self.parameters) - {BUILTIN})
        if unknown:
            raise ValueError(
                f"the workflow uses {{{{ {unknown[0]} }}}} but the template declares no "
                f"parameter {unknown[0]!r} (declared: {', '.join(self.parameters) or 'none'}; "
                "write \\{{ for a literal {{)"
            )
        for name, decl in self.parameters.items():
            if decl.default is not None:
                problem = value_problem(name, decl, decl.default)
                if problem:
                    raise ValueError(f"the default of {problem}")
        return self

    def summary(self) -> dict[str, Any]:
        """The list row: id, name, description, tags, version, parameter names."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "tags": list(self.tags),
            "version": self.version or 1,
            "parameters": list(self.parameters),
            "nodeCount": len(self.workflow.get("nodes") or []),
        }


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def placeholders(value: Any) -> list[str]:
    """Every placeholder name used in ``value`` (strings and keys, nested), in order."""
    names: list[str] = []
    for text in _strings(value):
        for match in PLACEHOLDER.finditer(text):
            if match.group(1) not in names:
                names.append(match.group(1))
    return names


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


def value_problem(name: str, decl: TemplateParameter, value: Any) -> str | None:
    """Why ``value`` cannot be parameter ``name`` (a sentence starting with its name)."""
    kind = decl.type
    what = f"parameter {name!r} ({kind})"
    if kind in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "integer":
            ok = ok and float(value).is_integer()
        if not ok:
            return f"{what} must be a{'n' if kind == 'integer' else ''} {kind}, got {_shown(value)}"
        if decl.minimum is not None and value < decl.minimum:
            return f"{what} must be at least {decl.minimum:g}, got {value!r}"
        if decl.maximum is not None and value > decl.maximum:
            return f"{what} must be at most {decl.maximum:g}, got {value!r}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            return f"{what} must be true or false, got {_shown(value)}"
    elif kind == "duration":
        try:
            parse_duration(value)
        except DurationError as exc:
            return f"{what}: {exc}"
    elif not isinstance(value, str):
        return f"{what} must be text, got {_shown(value)}"
    elif kind == "handler" and not re.match(HANDLER_PATTERN, value):
        return (
            f"{what}: {_shown(value)} is not a handler name: start with a letter or '_', "
            "then letters, digits, '_', '.', ':' or '-'"
        )
    elif kind == "id" and not re.match(ID_PATTERN, value):
        return f"{what}: {_shown(value)} is not an id: use letters, digits, '_' and '-'"
    elif kind == "cron" and len(value.split()) != 5:
        return f"{what}: {_shown(value)} is not a cron expression of 5 fields"
    if decl.enum is not None and value not in decl.enum:
        return f"{what} must be one of {_shown(decl.enum)}, got {_shown(value)}"
    return None


def _coerce(decl: TemplateParameter, value: Any) -> Any:
    """Text given for a number or a boolean (``--set retries=3`` from a shell) as that."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if decl.type in ("integer", "number"):
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if decl.type == "integer" and number.is_integer() else number
    if decl.type == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return value


def resolve_values(template: TemplateSpec, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` checked and completed with defaults; :class:`ParameterError` names every
    unknown, missing or ill-typed parameter."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    names: list[str] = []
    given = dict(given or {})
    for name in given:
        if name not in template.parameters:
            declared = ", ".join(template.parameters) or "none"
            problems.append(
                f"template {template.id!r} has no parameter {name!r} (it has: {declared})"
            )
            names.append(name)
    for name, decl in template.parameters.items():
        value = given.get(name)
        if value is None:
            value = decl.default
        if value is None:
            why = f": {decl.description}" if decl.description else ""
            problems.append(f"parameter {name!r} ({decl.type}) needs a value{why}")
            names.append(name)
            continue
        value = _coerce(decl, value)
        problem = value_problem(name, decl, value)
        if problem:
            problems.append(problem)
            names.append(name)
        values[name] = value
    if problems:
        raise ParameterError(
            "; ".join(problems),
            details={"parameter": names[0], "parameters": names, "problems": problems},
        )
    return values


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(
    workflow: Mapping[str, Any], values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[Path]]]:
    """The workflow with every placeholder filled, and where each parameter went."""
    used: dict[str, list[Path]] = {}

    def fill(text: str, path: Path) -> Any:
        whole = _WHOLE.match(text)
        if whole is not None:
            used.setdefault(whole.group(1), []).append(path)
            return values[whole.group(1)]

        def one(match: re.Match[str]) -> str:
            used.setdefault(match.group(1), []).append(path)
            return _text(values[match.group(1)])

        return _ESCAPED.sub("{{", PLACEHOLDER.sub(one, text))

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, str):
            return fill(value, path)
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                new_key = fill(str(key), path) if "{{" in str(key) else key
                out[_text(new_key)] = walk(item, (*path, _text(new_key)))
            return out
        if isinstance(value, list):
            return [walk(item, (*path, i)) for i, item in enumerate(value)]
        return value

    rendered = walk(workflow, ())
    assert isinstance(rendered, dict)
    return rendered, used


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> Path:
    """``nodes[1].handler`` as ``("nodes", 1, "handler")``."""
    return tuple(
        int(index) if index else key for key, index in _PATH_PART.findall(text)
    )  # fmt: skip


def blame(used: Mapping[str, list[Path]], where: Path) -> list[str]:
    """The parameters that went into ``where``, or into what holds or is held by it,
    nearest first."""
    exact = [n for n, paths in used.items() if any(p[: len(where)] == where for p in paths)]
    if exact:
        return exact
    for cut in range(len(where) - 1, 0, -1):
        around = [n for n, paths in used.items() if any(p[:cut] == where[:cut] for p in paths)]
        if around:
            return around
    return []


def load_template(data: Any) -> TemplateSpec:
    """A template from parsed YAML/JSON (``ValidationError`` when it is not one)."""
    return TemplateSpec.model_validate(data)


def gallery() -> list[TemplateSpec]:
    """The templates dagq ships (``spec/gallery/*.yaml``), by id."""
    folder = resources.files("orchestrator.spec").joinpath("gallery")
    out: list[TemplateSpec] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            out.append(load_template(yaml.safe_load(entry.read_text("utf-8"))))
    return out


_STAND_INS: dict[str, Any] = {
    "integer": 1, "number": 1, "boolean": True, "duration": "1s", "cron": "0 0 * * *",
}  # fmt: skip


def preview_values(template: TemplateSpec, workflow_id: str = "preview") -> dict[str, Any]:
    """Values to draw a template's graph before anyone chose them: the defaults, and for a
    parameter without one a stand-in of its type (its own name for text)."""
    values: dict[str, Any] = {BUILTIN: workflow_id}
    for name, decl in template.parameters.items():
        default = decl.default if decl.default is not None else _STAND_INS.get(decl.type, name)
        values[name] = default
    return values
