"""Export: a spec as clean snake_case YAML or JSON that loads back to the same model."""

from __future__ import annotations

import json
from typing import Any

import yaml

from orchestrator.errors import BadRequest
from orchestrator.spec.loader import Format
from orchestrator.spec.model import WorkflowSpec

_SafeDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_TOP_ORDER = (
    "id", "name", "version", "description", "tags", "nodes", "edges", "parameters",
    "compensation_strategy", "transaction_mode", "config", "notify", "metadata",
)  # fmt: skip
_NODE_ORDER = (
    "id", "type", "name", "handler", "condition", "compensation", "compensates", "strategy",
    "join", "join_count", "cancel_remaining", "message", "approvers", "required", "signal",
    "duration", "cron", "items", "workflow", "version", "params", "max_parallel",
    "max_items", "tolerate_failures", "timeout", "retries", "retry_policy", "priority",
    "on_timeout", "resources",
    "input", "description", "position", "metadata",
)  # fmt: skip
_EDGE_ORDER = ("id", "source", "target", "condition", "default", "label")


def _ordered(data: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out = {k: data[k] for k in order if k in data}
    out.update((k, v) for k, v in data.items() if k not in out)
    return out


def spec_to_data(spec: WorkflowSpec) -> dict[str, Any]:
    """The spec as clean JSON data: snake_case, defaults and Nones left out, ordered keys."""
    data = spec.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data["nodes"] = [_ordered(n, _NODE_ORDER) for n in data.get("nodes", [])]
    if "edges" in data:
        ids = [e.id for e in spec.edges]
        edges = []
        for edge in data["edges"]:
            # a derived id (source->target) comes back by itself when loaded; leave it out
            derived = f"{edge['source']}->{edge['target']}"
            if edge.get("id") == derived and ids.count(derived) == 1:
                edge = {k: v for k, v in edge.items() if k != "id"}
            edges.append(_ordered(edge, _EDGE_ORDER))
        data["edges"] = edges
    return _ordered(data, _TOP_ORDER)


def dump_spec(spec: WorkflowSpec, fmt: Format = "yaml") -> str:
    """Export ``spec`` as YAML or JSON text that :func:`load_text` reads back equal."""
    data = spec_to_data(spec)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt != "yaml":
        raise BadRequest(f"unknown export format {fmt!r}; use yaml or json")
    text: str = yaml.dump(data, Dumper=_SafeDumper, sort_keys=False, allow_unicode=True, width=100)
    return text
