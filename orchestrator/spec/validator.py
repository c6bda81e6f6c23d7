"""Judge a workflow: every problem found at once, each with a code and the nodes involved.

``validate_data`` builds the model and, when that works, runs every graph check on
it; when the model cannot be built it still runs the structural checks (duplicate
ids, unknown endpoints, cycles, expressions) on the raw dicts, so a user sees the
whole picture at once.  The checks (:mod:`orchestrator.spec.checks`) work on neutral
records built from either source.  Everything is linear in the size of the spec: 500
nodes validate in a few milliseconds (see ``dagq bench validate``).  A document with more
nodes or edges than the limits allow is refused before any model is built: its size is
the one thing worth saying, and building 20,000 edge models first only costs time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.errors import SpecInvalid
from orchestrator.spec.checks import EDGES_PER_NODE, Checker, EdgeRecord, NodeRecord, too_many_edges
from orchestrator.spec.loader import Format, SpecIssue, build_spec, parse_document, spec_invalid
from orchestrator.spec.model import MAX_EXPRESSION_LENGTH, WorkflowSpec
from orchestrator.spec.notify_url import notify_url_problem
from orchestrator.spec.subworkflows import subworkflow_issues

__all__ = [
    "SpecIssue",
    "ValidationResult",
    "validate_and_build",
    "validate_data",
    "validate_spec",
    "validate_text",
]

DEFAULT_MAX_NODES = 500


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """What the validator found: ``valid`` is true when there are no errors."""

    errors: tuple[SpecIssue, ...] = ()
    warnings: tuple[SpecIssue, ...] = ()

    @property
    def valid(self) -> bool:
        """True when no error was found (warnings do not count)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """``{"valid", "errors": [...], "warnings": [...]}`` with camelCase optional keys."""
        return {
            "valid": self.valid,
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def raise_if_invalid(self, filename: str = "<input>") -> None:
        """Raise :class:`SpecInvalid` (errors, and warnings in ``details``) unless valid."""
        if self.errors:
            exc: SpecInvalid = spec_invalid(list(self.errors), filename)
            exc.details["warnings"] = [w.to_dict() for w in self.warnings]
            raise exc


# --- records from a model or from raw data ----------------------------------------------


def _records_from_spec(spec: WorkflowSpec) -> tuple[list[NodeRecord], list[EdgeRecord]]:
    nodes: list[NodeRecord] = []
    for i, n in enumerate(spec.nodes):
        record = NodeRecord(n.id, i, n.type)
        if n.type in ("task", "subworkflow"):
            record.compensation = n.compensation
        elif n.type == "compensation":
            record.compensates, record.strategy = n.compensates, n.strategy
        elif n.type == "decision":
            record.condition = n.condition
        elif n.type == "map":
            record.condition = n.items  # the expression the checks parse
        elif n.type == "parallel":
            record.join, record.join_count = n.join, n.join_count
            record.cancel_remaining = n.cancel_remaining
        elif n.type == "approval":
            record.message = n.message
        nodes.append(record)
    explicit = bool(spec.edges)
    edges = [
        EdgeRecord(i if explicit else None, e.id or e.source + "->" + e.target, e.source, e.target,
              e.condition, e.default)
        for i, e in enumerate(spec.flow_edges())
    ]  # fmt: skip
    return nodes, edges


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _condition(value: Any) -> bool | str | None:
    # an over-long condition was reported by the schema already: do not report it twice
    if isinstance(value, bool) or (isinstance(value, str) and len(value) <= MAX_EXPRESSION_LENGTH):
        return value
    return None


def _records_from_raw(raw: dict[str, Any]) -> tuple[list[NodeRecord], list[EdgeRecord]]:
    """Best-effort records from data the model refused (ill-formed items are skipped)."""
    nodes: list[NodeRecord] = []
    raw_nodes = raw.get("nodes")
    for i, item in enumerate(raw_nodes if isinstance(raw_nodes, list) else []):
        if not isinstance(item, dict) or _text(item.get("id")) is None:
            continue
        config = item.get("config")
        merged = {**config, **item} if isinstance(config, dict) else item
        kind = _text(merged.get("type"))
        record = NodeRecord(merged["id"], i, kind)
        comp = merged.get("compensation", merged.get("compensationNode"))
        record.compensation = _text(comp) if kind in ("task", "subworkflow") else None
        record.compensates = _text(merged.get("compensates")) if kind == "compensation" else None
        condition = _condition(merged.get("condition"))
        if kind == "map":
            condition = _condition(merged.get("items"))
        record.condition = (
            condition if kind in ("decision", "map") and isinstance(condition, str) else None
        )
        nodes.append(record)
    edges: list[EdgeRecord] = []
    raw_edges = raw.get("edges")
    for i, item in enumerate(raw_edges if isinstance(raw_edges, list) else []):
        if not isinstance(item, dict):
            continue
        source, target = _text(item.get("source")), _text(item.get("target"))
        if source is None or target is None:
            continue
        edges.append(
            EdgeRecord(
                i,
                _text(item.get("id")) or f"{source}->{target}",
                source,
                target,
                _condition(item.get("condition")),
                item.get("default") is True,
            )
        )
    return nodes, edges


# --- entry points -----------------------------------------------------------------------


def validate_spec(spec: WorkflowSpec, *, max_nodes: int = DEFAULT_MAX_NODES) -> ValidationResult:
    """Run every graph check on a built model (the model already passed its schema)."""
    nodes, edges = _records_from_spec(spec)
    check = Checker(nodes, edges, explicit_edges=bool(spec.edges))
    check.size(max_nodes)
    check.duplicate_nodes()
    check.edge_structure()
    check.compensation_links(types_known=True)
    check.compensation_wiring()
    check.edge_conditions()
    check.cycles()
    check.entries_and_reach()
    check.joins()
    check.expressions()
    check.parameter_validations(
        {name: p.validation for name, p in spec.parameters.items() if p.validation is not None}
    )
    check.saga(spec.compensation_strategy)
    check.compensation_strategies()
    errors = [*check.errors, *subworkflow_issues(spec)]
    if spec.notify is not None and (why := notify_url_problem(spec.notify.url)):
        errors.append(SpecIssue("BAD_NOTIFY_URL", why, path="notify.url"))
    return ValidationResult(tuple(errors), tuple(check.warnings))


def _too_big(raw: dict[str, Any], max_nodes: int) -> list[SpecIssue]:
    """TOO_MANY_NODES / TOO_MANY_EDGES from the raw lists' lengths alone."""
    issues: list[SpecIssue] = []
    nodes, edges = raw.get("nodes"), raw.get("edges")
    if isinstance(nodes, list) and len(nodes) > max_nodes:
        issues.append(
            SpecIssue(
                "TOO_MANY_NODES",
                f"the workflow has {len(nodes)} nodes; the limit is {max_nodes}",
                path="nodes",
            )
        )
    if isinstance(edges, list) and len(edges) > max_nodes * EDGES_PER_NODE:
        issues.append(
            SpecIssue("TOO_MANY_EDGES", too_many_edges(len(edges), max_nodes), path="edges")
        )
    return issues


def validate_and_build(
    raw: Any, *, max_nodes: int = DEFAULT_MAX_NODES
) -> tuple[ValidationResult, WorkflowSpec | None]:
    """Validate parsed data and return the model too whenever it could be built; never raises."""
    if isinstance(raw, dict) and (too_big := _too_big(raw, max_nodes)):
        return ValidationResult(tuple(too_big)), None
    spec, issues = build_spec(raw)
    if spec is not None:
        return validate_spec(spec, max_nodes=max_nodes), spec
    if not isinstance(raw, dict):
        return ValidationResult(tuple(issues)), None
    nodes, edges = _records_from_raw(raw)
    check = Checker(nodes, edges, explicit_edges=bool(edges))
    check.duplicate_nodes()
    check.edge_structure()
    check.compensation_links(types_known=False)
    check.cycles()
    check.expressions()
    return ValidationResult((*issues, *check.errors)), None


def validate_data(raw: Any, *, max_nodes: int = DEFAULT_MAX_NODES) -> ValidationResult:
    """Validate parsed data (a dict from YAML/JSON or an API body); never raises."""
    return validate_and_build(raw, max_nodes=max_nodes)[0]


def validate_text(
    text: str,
    filename: str = "<input>",
    fmt: Format | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> tuple[ValidationResult, WorkflowSpec | None]:
    """Parse and validate ``text``; never raises for bad input.

    The spec is returned whenever the model could be built, even when graph checks
    failed (a designer can still show a spec with a cycle): check ``result.valid``.
    """
    try:
        raw = parse_document(text, filename, fmt)
    except SpecInvalid as exc:
        errors = tuple(SpecIssue(**_issue_kwargs(e)) for e in exc.details.get("errors", []))
        return ValidationResult(errors), None
    return validate_and_build(raw, max_nodes=max_nodes)


def _issue_kwargs(issue: dict[str, Any]) -> dict[str, Any]:
    names = {"nodeId": "node_id", "edgeId": "edge_id"}
    return {names.get(k, k): v for k, v in issue.items()}
