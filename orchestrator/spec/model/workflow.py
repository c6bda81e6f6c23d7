"""A workflow: its nodes, edges, parameters and settings, and the input shapes it accepts.

Snake_case is the canonical form (what export writes); camelCase keys of the upstream
reference (``retryBackoff``, ``compensationNode``, ``joinStrategy``, a node's nested
``config``...) are accepted on input and normalised by ``_normalise_node``.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic.alias_generators import to_camel, to_snake

from orchestrator.spec.model.base import Duration, Expression, NodeId, _Model, _pattern
from orchestrator.spec.model.nodes import Node
from orchestrator.spec.reference import decision_booleans, expand_branches
from orchestrator.vocab import EventType


class Edge(_Model):
    """A dependency ``source -> target``, optionally guarded by a condition."""

    id: str | None = Field(default=None, min_length=1, max_length=256)
    source: NodeId
    target: NodeId
    condition: bool | Expression | None = None
    default: bool = False
    label: str | None = Field(default=None, max_length=128)


class Parameter(_Model):
    """A declared run parameter: its type, whether it is required, its default."""

    type: Literal["string", "number", "integer", "boolean", "object", "array"] = "string"
    required: bool = False
    default: Any = None
    description: str | None = None
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: Annotated[str, BeforeValidator(_pattern)] | None = None
    """A string parameter's value must match it whole; RE2 syntax (see ``spec.patterns``)."""
    validation: Expression | None = None
    """An expression over ``params`` that must hold when a run starts
    (``params.amount > 0``), checked after the defaults are applied."""


class WorkflowConfig(_Model):
    """Per-workflow execution settings; unset fields take the configured defaults."""

    max_execution_time: Duration | None = None
    max_retries: int | None = Field(default=None, ge=0, le=100)
    concurrency_limit: int | None = Field(default=None, ge=1, le=10_000)
    priority: int | None = Field(default=None, ge=0, le=10)
    max_queued_nodes: int | None = Field(default=None, ge=1, le=10_000_000)
    """Nodes of this workflow's runs that may be queued or running at once: a start is
    refused (429 with Retry-After) while they are this many."""
    params_as_input: bool | None = None
    """Entry nodes receive the run's parameters as their input (their own ``input`` on
    top): how a plain job or a chain hands its payload to its first handler, and what a
    chain promoted to a workflow keeps doing."""


def slugify(name: str) -> str:
    """A workflow id from its name: ``Data Processing Pipeline`` -> ``data-processing-pipeline``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:128] or "workflow"


_NODE_SYNONYMS = {
    "retryBackoff": "retry_policy",
    "retry_backoff": "retry_policy",
    "compensationNode": "compensation",
    "compensation_node": "compensation",
    "joinStrategy": "join",
    "join_strategy": "join",
}


def _has_field(data: dict[str, Any], key: str) -> bool:
    """Whether ``data`` sets the field ``key`` names, under any of its spellings."""
    canonical = _NODE_SYNONYMS.get(key, to_snake(key))
    return any(k in data for k in (key, canonical, to_camel(canonical)))


def _normalise_node(raw: Any) -> Any:
    """Flatten the reference's nested ``config`` and rename its synonyms."""
    if not isinstance(raw, dict):
        return raw
    node = dict(raw)
    config = node.pop("config", None)
    if isinstance(config, dict):
        for key, value in config.items():
            # An answer of ours carries both forms; the flat, canonical one wins.
            if not _has_field(node, key):
                node[key] = value
    elif config is not None:
        node["config"] = config  # let the model report it
    for old, new in _NODE_SYNONYMS.items():
        if old in node and new not in node and to_camel(new) not in node:
            node[new] = node.pop(old)
    node.pop("gatewayType", None) if node.get("gatewayType") == node.get("type") else None
    delay_type = node.get("delayType")
    if node.get("type") == "delay" and delay_type in ("fixed", "cron"):
        node.pop("delayType")
    return node


NotifyOn = Literal[EventType.APPROVAL_REQUESTED]
"""The events a workflow's ``notify`` hook may ask for."""


def _on_approval_requested() -> list[NotifyOn]:
    return [EventType.APPROVAL_REQUESTED]


class Notify(_Model):
    """Tell people who are not looking at dagq: POST signed events to ``url``."""

    url: Annotated[str, Field(min_length=1, max_length=2048)]
    """``http``/``https``, no credentials (checked by the validator: BAD_NOTIFY_URL)."""
    on: list[NotifyOn] = Field(default_factory=_on_approval_requested, min_length=1)


class WorkflowSpec(_Model):
    """A workflow: named nodes wired by edges, with parameters and settings."""

    id: NodeId
    name: str = Field(min_length=1, max_length=256)
    version: int | None = Field(default=None, ge=1)
    description: str = Field(default="", max_length=4096)
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    nodes: list[Node] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    compensation_strategy: Literal["saga", "none"] = "none"
    transaction_mode: Literal["compensate_on_failure", "fail_fast"] | None = None
    config: WorkflowConfig = Field(default_factory=WorkflowConfig)
    notify: Notify | None = None

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("id") and isinstance(data.get("name"), str) and data["name"].strip():
            data["id"] = slugify(data["name"])
        config = data.get("config")
        if isinstance(config, dict):
            config = dict(config)
            for key in ("compensationStrategy", "compensation_strategy"):
                if key in config:
                    data.setdefault("compensation_strategy", config.pop(key))
            for name in WorkflowConfig.model_fields:
                if name in config and to_camel(name) != name:
                    config.pop(to_camel(name), None)  # an answer of ours has both: ours wins
            data["config"] = config
        if "compensationStrategy" in data and "compensation_strategy" not in data:
            data["compensation_strategy"] = data.pop("compensationStrategy")
        if isinstance(data.get("nodes"), list):
            data["nodes"] = [_normalise_node(n) for n in data["nodes"]]
        edges = data.get("edges")
        if edges is None and "edges" in data:
            data["edges"] = edges = []
        if isinstance(data.get("nodes"), list) and isinstance(edges, list | None):
            expanded = expand_branches(data["nodes"], list(edges or []))
            if expanded is not None:
                data["edges"] = edges = expanded
        if isinstance(edges, list):
            data["edges"] = _derive_edge_ids(decision_booleans(data.get("nodes"), edges))
        return data

    def node(self, node_id: str) -> Node:
        """The node with this id; ``KeyError`` when there is none."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def flow_edges(self) -> list[Edge]:
        """The forward edges that drive execution.

        A spec that lists no edges runs its non-compensation nodes in the listed
        order (the design's saga example is written that way).
        """
        if self.edges:
            return list(self.edges)
        chain = [n.id for n in self.nodes if n.type != "compensation"]
        return [Edge(id=f"{a}->{b}", source=a, target=b) for a, b in pairwise(chain)]


def _derive_edge_ids(edges: list[Any]) -> list[Any]:
    seen: set[str] = {
        e["id"] for e in edges if isinstance(e, dict) and isinstance(e.get("id"), str)
    }
    # The next suffix to try per base id: without it, n copies of one edge would probe
    # 1 + 2 + ... + n candidates (20,000 duplicates took 78 s).
    next_suffix: dict[str, int] = {}
    out: list[Any] = []
    for edge in edges:
        if isinstance(edge, dict) and not edge.get("id"):
            base = f"{edge.get('source')}->{edge.get('target')}"
            candidate, n = base, next_suffix.get(base, 2)
            while candidate in seen:
                candidate, n = f"{base}#{n}", n + 1
            next_suffix[base] = n
            seen.add(candidate)
            edge = {**edge, "id": candidate}
        out.append(edge)
    return out
