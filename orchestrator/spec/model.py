"""The workflow specification: pydantic v2 models of a DAG of typed nodes.

Snake_case is the canonical form (what export writes); camelCase keys of the
upstream reference (``retryBackoff``, ``compensationNode``, ``joinStrategy``, a node's
nested ``config``...) are accepted on input and normalised by ``_normalise_node``.

Structural problems (wrong types, a bad duration or cron, a delay with both or
neither of duration/cron) fail model construction with pydantic errors whose
``type`` is one of the validator's codes in lower case (``bad_duration``,
``bad_cron``, ``delay_spec``); graph problems are the validator's business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake
from pydantic_core import PydanticCustomError

from orchestrator.durations import DurationError, format_duration, parse_duration
from orchestrator.sizes import SizeError, compact_bytes, parse_bytes
from orchestrator.spec.patterns import PatternError, compile_pattern
from orchestrator.spec.reference import decision_booleans, expand_branches
from orchestrator.vocab import ROLES, EventType

ID_PATTERN = r"^[A-Za-z0-9_-]+$"
HANDLER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:-]*$"
MAX_EXPRESSION_LENGTH = 1024


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise PydanticCustomError("bad_duration", str(exc)) from None


def _cron(value: object) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("bad_cron", "a cron expression must be a string of 5 fields")
    text = " ".join(value.split())
    if len(text.split(" ")) != 5:
        raise PydanticCustomError(
            "bad_cron",
            "cron expression '{value}' must have 5 fields: minute hour day month weekday",
            {"value": value},
        )
    try:
        CronSim(text, datetime(2000, 1, 1))  # noqa: DTZ001 - only checks the syntax
    except (CronSimError, ValueError) as exc:
        raise PydanticCustomError(
            "bad_cron",
            "cron expression '{value}' is invalid: {why}",
            {"value": value, "why": str(exc)},
        ) from None
    return text


def _pattern(value: object) -> object:
    if isinstance(value, str):
        try:
            compile_pattern(value)
        except PatternError as exc:
            raise PydanticCustomError(
                "bad_pattern",
                "pattern {value} cannot be used: {why}",
                {"value": repr(value[:80]), "why": str(exc)},
            ) from None
    return value


def _positive_timeout(value: float) -> float:
    # Temporal and Conductor read 0 as "no timeout"; the upstream schema (minimum: 1) and
    # Airflow refuse it.  A zero typed by mistake must not silently unbound a task.
    if value <= 0:
        raise PydanticCustomError(
            "bad_duration",
            "a timeout must be more than 0 (got {got}); leave it out to use the default "
            "(workflow.execution.default_timeout), or give a long one such as 24h: "
            "dagq has no unlimited timeout",
            {"got": format_duration(value)},
        )
    return value


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json-unless-none"),
]


def _size(value: object) -> int:
    try:
        return parse_bytes(value)
    except SizeError as exc:
        raise PydanticCustomError("bad_size", "{why}", {"why": str(exc)}) from None


ByteSize = Annotated[
    int,
    BeforeValidator(_size),
    PlainSerializer(compact_bytes, return_type=str, when_used="json-unless-none"),
]
"""A size in bytes, written ``512MiB``, ``4GiB``, ``300MB`` or as a number of bytes."""
Timeout = Annotated[Duration, AfterValidator(_positive_timeout)]
"""A task attempt's timeout: a duration above zero."""
Cron = Annotated[str, BeforeValidator(_cron)]
NodeId = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
HandlerName = Annotated[str, Field(min_length=1, max_length=128, pattern=HANDLER_PATTERN)]
Expression = Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION_LENGTH)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=False,
    )


class Position(_Model):
    """Where the designer drew a node on its canvas (cells)."""

    x: float = Field(ge=0, le=100_000)
    y: float = Field(ge=0, le=100_000)


class RetryPolicy(_Model):
    """Delay between attempts of a task; unset fields take the configured defaults."""

    backoff: Literal["fixed", "linear", "exponential"] = "exponential"
    initial_interval: Duration = 1.0
    max_interval: Duration = 60.0
    multiplier: float = Field(default=2.0, ge=1.0, le=100.0)
    jitter: bool = False

    @model_validator(mode="before")
    @classmethod
    def _accept_reference_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" in data and "backoff" not in data:
            data = dict(data)
            data["backoff"] = data.pop("type")
        return data


class Resources(_Model):
    """What one attempt of a task needs from its worker (the design's ResourceLimits).

    A worker runs the attempt only while the request fits in what it has free; run
    isolated (in a child process), ``memory`` is also the attempt's hard memory limit.
    """

    memory: ByteSize | None = Field(default=None, ge=1024**2)
    """Memory, at least 1 MiB."""
    cpu: float | None = Field(default=None, gt=0, le=1024)
    """CPU cores (fractions allowed: 0.5)."""


class _NodeBase(_Model):
    id: NodeId
    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    position: Position | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_is_not_the_id(cls, name: str | None, info: ValidationInfo) -> str | None:
        # A name equal to the id shows the same; the API writes one for every node (the
        # reference requires it), and reading that back must not make the spec differ.
        return None if name == info.data.get("id") else name

    @property
    def label(self) -> str:
        """The name shown on the canvas: ``name`` when set, else the id."""
        return self.name or self.id


class RunnableNode(_NodeBase):
    """A node that runs a handler on a worker (``isinstance`` tells the kinds apart)."""

    handler: HandlerName
    timeout: Timeout | None = None
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_policy: RetryPolicy | None = None
    priority: int | None = Field(default=None, ge=0, le=10)
    """0-10, the lane of its jobs (7-10 high, 4-6 normal, 0-3 low); unset: the run's."""
    resources: Resources | None = None
    """Memory and CPU one attempt needs (a worker's capacity is reserved for it)."""


class TaskNode(RunnableNode):
    """Runs ``handler`` on a worker with the merged outputs of its predecessors."""

    type: Literal["task"]
    compensation: NodeId | None = None
    input: dict[str, Any] = Field(default_factory=dict)


class DecisionNode(_NodeBase):
    """Evaluates ``condition``; takes the outgoing edges labelled with the result."""

    type: Literal["decision"]
    condition: Expression


class ExclusiveNode(_NodeBase):
    """Takes the first outgoing edge whose condition holds, else the default edge."""

    type: Literal["exclusive"]


class InclusiveNode(_NodeBase):
    """Takes every outgoing edge whose condition holds; the default edge only when none does."""

    type: Literal["inclusive"]


class ParallelNode(_NodeBase):
    """Forks to every outgoing edge; as a join waits for all, any or n of m inputs."""

    type: Literal["parallel"]
    join: Literal["all", "any", "n_of_m"] = "all"
    join_count: int | None = Field(default=None, ge=1)
    cancel_remaining: bool = False
    """As an ``any``/``n_of_m`` join: when it fires, cancel the branches still pending,
    queued, running or waiting (the cancelling discriminator)."""


class DelayNode(_NodeBase):
    """Waits for ``duration`` or until the next tick of a 5-field ``cron``."""

    type: Literal["delay"]
    duration: Duration | None = None
    cron: Cron | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DelayNode:
        if (self.duration is None) == (self.cron is None):
            raise PydanticCustomError(
                "delay_spec",
                "delay node '{id}' needs exactly one of duration or cron",
                {"id": self.id},
            )
        return self


UserName = Annotated[str, Field(min_length=1, max_length=128)]


class Approvers(_Model):
    """Who may decide an approval: any listed role or user (unset: anyone with run:approve)."""

    roles: list[str] = Field(default_factory=list, max_length=len(ROLES))
    users: list[UserName] = Field(default_factory=list, max_length=100)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise PydanticCustomError(
                "approvers",
                "unknown role {roles}; the roles are {known}",
                {"roles": ", ".join(map(repr, unknown)), "known": ", ".join(ROLES)},
            )
        return roles


class ApprovalNode(_NodeBase):
    """Waits for people: ``required`` approvals (one rejection rejects), or its timeout.

    Its outgoing edges carry ``condition: true`` (approved) and ``false`` (rejected)."""

    type: Literal["approval"]
    message: str = Field(default="", max_length=4096)
    """Shown to approvers; ``{{ expression }}`` parts read ``params`` and ``output`` (the
    merged input)."""
    approvers: Approvers | None = None
    required: int = Field(default=1, ge=1, le=100)
    timeout: Timeout | None = None
    on_timeout: Literal["approve", "reject", "fail"] = "reject"

    @model_validator(mode="after")
    def _enough_approvers(self) -> ApprovalNode:
        a = self.approvers
        if a is not None and not a.roles and self.required > len(set(a.users)):
            raise PydanticCustomError(
                "approvers",
                "approval '{id}' requires {n} approvals but only {m} user(s) may decide "
                "(approvers.users); lower required or add approvers",
                {"id": self.id, "n": self.required, "m": len(set(a.users))},
            )
        return self


SignalName = Annotated[str, Field(min_length=1, max_length=128, pattern=HANDLER_PATTERN)]


class SignalNode(_NodeBase):
    """Waits for the signal ``signal`` (sent to the run); its output is the signal's payload."""

    type: Literal["signal"]
    signal: SignalName
    timeout: Timeout | None = None
    on_timeout: Literal["fail", "continue"] = "fail"


class CompensationNode(RunnableNode):
    """Undoes a completed task when a saga fails; runs ``handler``."""

    type: Literal["compensation"]
    compensates: NodeId | None = None
    strategy: Literal["immediate", "deferred", "manual"] = "immediate"
    """The upstream reference's field.  dagq compensates once the forward work in flight
    has settled, in reverse order, which serves ``immediate`` and ``deferred`` alike;
    ``manual`` is accepted with a warning that dagq still runs it."""


class MapNode(_NodeBase):
    """Runs ``handler`` once per element of the list ``items`` evaluates to, each element
    an attempt of its own (input ``{"item", "index"}`` over the map's input)."""

    type: Literal["map"]
    items: Expression
    """An expression over ``output``, ``params`` and ``nodes`` that gives a list."""
    handler: HandlerName | None = None
    workflow: NodeId | None = None
    """Each item runs this stored workflow as a sub-workflow (instead of ``handler``)."""
    version: int | None = Field(default=None, ge=1)
    params: dict[Annotated[str, Field(min_length=1, max_length=128)], Expression] | None = None
    """With ``workflow``: each child's parameters, expressions whose ``output`` is the
    item's input (``output.item``); unset: ``{"item", "index"}``."""
    max_parallel: int | None = Field(default=None, ge=1, le=10_000)
    """Items queued or running at once; unset: the run's parallelism limit."""
    max_items: int | None = Field(default=None, ge=0, le=1_000_000)
    """More items fail the node; unset: ``resource_limits.max_map_items``."""
    tolerate_failures: int = Field(default=0, ge=0)
    """Item failures (after their retries) the map absorbs; one more fails the node."""
    timeout: Timeout | None = None
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_policy: RetryPolicy | None = None
    priority: int | None = Field(default=None, ge=0, le=10)

    @model_validator(mode="after")
    def _one_target(self) -> MapNode:
        if (self.handler is None) == (self.workflow is None):
            raise PydanticCustomError(
                "map_target",
                "map node '{id}' needs exactly one of handler (a function per item) or "
                "workflow (a sub-workflow per item)",
                {"id": self.id},
            )
        return self


class SubworkflowNode(_NodeBase):
    """Starts a run of another stored workflow, waits for it, and outputs its final outputs
    plus ``run_id``; a failed child fails the node (``retries`` start a new child)."""

    type: Literal["subworkflow"]
    workflow: NodeId
    version: int | None = Field(default=None, ge=1)
    """Unset: the newest version when the node starts (recorded in the child run)."""
    params: dict[Annotated[str, Field(min_length=1, max_length=128)], Expression] = Field(
        default_factory=dict
    )
    """The child's parameters: expressions over ``output``, ``params`` and ``nodes``."""
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_policy: RetryPolicy | None = None
    priority: int | None = Field(default=None, ge=0, le=10)
    compensation: NodeId | None = None
    """A compensation node that undoes a completed child when a saga fails."""


AnyNode = (
    TaskNode
    | DecisionNode
    | ExclusiveNode
    | InclusiveNode
    | ParallelNode
    | DelayNode
    | CompensationNode
    | MapNode
    | SubworkflowNode
    | ApprovalNode
    | SignalNode
)
"""Every node kind: a new kind is a class above, added here (and nowhere else in the spec)."""
Node = Annotated[AnyNode, Field(discriminator="type")]
NODE_CLASSES: tuple[type[_NodeBase], ...] = get_args(AnyNode)


def _type_of(cls: type[_NodeBase]) -> str:
    (kind,) = get_args(cls.model_fields["type"].annotation)
    return str(kind)


NODE_TYPES: tuple[str, ...] = tuple(_type_of(cls) for cls in NODE_CLASSES)
"""The node types, in the union's order (derived from each class's ``type`` literal)."""
NODE_CLASS: Mapping[str, type[_NodeBase]] = MappingProxyType(
    {_type_of(cls): cls for cls in NODE_CLASSES}
)
"""Node type -> its pydantic class."""
RUNNABLE_TYPES: tuple[str, ...] = tuple(
    kind for kind, cls in NODE_CLASS.items() if issubclass(cls, RunnableNode)
)
"""Node types that run a handler on a worker."""


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
