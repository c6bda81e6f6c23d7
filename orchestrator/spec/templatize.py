"""A workflow made into a template: the values a person chooses become parameters.

:func:`candidates` lists what may become a parameter (the workflow's name, every
handler, timeout, retry count, delay and condition) with a parameter name, a type and
the current value; :func:`templatize` replaces the chosen values by ``{{ name }}`` and
declares each with its current value as the default, so the template makes the same
workflow again when used with its defaults. Pure data in, pure data out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.spec.template import Path, TemplateSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A value of the workflow that may become a parameter."""

    path: Path
    param: str
    type: str
    value: Any
    label: str
    """What it is, for a person: ``fetch_data · handler``."""


def _param(node_id: str, field: str) -> str:
    name = _UNSAFE.sub("_", f"{node_id}_{field}")
    return name if not name[0].isdigit() else f"p_{name}"


_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "task": (("handler", "handler"), ("timeout", "duration"), ("retries", "integer")),
    "compensation": (("handler", "handler"), ("timeout", "duration"), ("retries", "integer")),
    "delay": (("duration", "duration"), ("cron", "cron")),
    "decision": (("condition", "string"),),
}


def candidates(workflow: Mapping[str, Any]) -> list[Candidate]:
    """What may become a parameter, in the workflow's order."""
    out: list[Candidate] = []
    if isinstance(workflow.get("name"), str):
        out.append(Candidate(("name",), "title", "string", workflow["name"], "workflow · name"))
    for i, node in enumerate(workflow.get("nodes") or []):
        if not isinstance(node, Mapping):
            continue
        node_id = str(node.get("id"))
        for field, kind in _FIELDS.get(str(node.get("type")), ()):
            value = node.get(field)
            if value is None or isinstance(value, bool):
                continue
            label = f"{node_id} · {field}"
            out.append(Candidate(("nodes", i, field), _param(node_id, field), kind, value, label))
    return out


def _escape(value: Any) -> Any:
    """Every ``{{`` already in the workflow stays literal text (``\\{{``)."""
    if isinstance(value, str):
        return value.replace("{{", "\\{{")
    if isinstance(value, Mapping):
        return {_escape(str(k)): _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def templatize(
    workflow: Mapping[str, Any],
    chosen: Iterable[Candidate],
    *,
    template_id: str,
    name: str,
    description: str = "",
) -> TemplateSpec:
    """A template making ``workflow`` again, with the ``chosen`` values as parameters."""
    body: dict[str, Any] = _escape(copy.deepcopy(dict(workflow)))
    for key in ("id", "version"):
        body.pop(key, None)
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("template", None)  # where it came from is not part of what it makes
    parameters: dict[str, dict[str, Any]] = {}
    for candidate in chosen:
        holder: Any = body
        for part in candidate.path[:-1]:
            holder = holder[part]
        holder[candidate.path[-1]] = f"{{{{ {candidate.param} }}}}"
        parameters[candidate.param] = {
            "type": candidate.type,
            "default": candidate.value,
            "description": candidate.label.replace(" · ", "'s ", 1),
        }
    return TemplateSpec.model_validate(
        {
            "id": template_id,
            "name": name,
            "description": description,
            "parameters": parameters,
            "workflow": body,
        }
    )
