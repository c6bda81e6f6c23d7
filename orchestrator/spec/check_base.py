"""What every check of the validator shares: the neutral records of nodes and edges
it reads, how it reports a problem, and the words of its messages.

The records (:class:`NodeRecord`, :class:`EdgeRecord`) are built by the validator
either from a built model or, best effort, from raw data the model refused.  The
checks themselves are methods of :class:`~orchestrator.spec.checks.Checker` (the
graph) and :class:`~orchestrator.spec.saga_checks.SagaChecks` (compensations).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.spec.expressions import ExpressionError, check_expression
from orchestrator.spec.loader import SpecIssue
from orchestrator.spec.templates import check_template


@dataclass(slots=True)
class NodeRecord:
    id: str
    index: int
    type: str | None
    compensation: str | None = None
    compensates: str | None = None
    condition: str | None = None
    join: str | None = None
    join_count: int | None = None
    strategy: str | None = None
    cancel_remaining: bool = False
    message: str | None = None


@dataclass(slots=True)
class EdgeRecord:
    index: int | None  # None: an implicit edge of a spec that lists no edges
    id: str
    source: str
    target: str
    condition: bool | str | None = None
    default: bool = False

    @property
    def text(self) -> str:
        return f"{self.source} -> {self.target}"

    @property
    def path(self) -> str | None:
        return None if self.index is None else f"edges[{self.index}]"


GATEWAYS = ("exclusive", "inclusive")
"""Node kinds whose outgoing edges carry conditions and at most one default edge."""
COMPENSABLE = ("task", "subworkflow")
"""Node kinds a saga can undo by a compensation node."""

EDGES_PER_NODE = 10
"""A workflow may have at most this many edges per allowed node (``max_nodes`` x 10)."""


def too_many_edges(count: int, max_nodes: int) -> str:
    """The message of TOO_MANY_EDGES."""
    return (
        f"the workflow has {count} edges; the limit is {max_nodes * EDGES_PER_NODE} "
        f"({EDGES_PER_NODE} per node of the {max_nodes}-node limit)"
    )


def quoted(ids: list[str]) -> str:
    """``'a', 'b'``: node ids as a message names them."""
    return ", ".join(f"'{i}'" for i in ids)


def listed(items: list[str], shown: int = 3) -> str:
    """``a and b``, ``a, b, c and 17 more``."""
    if len(items) <= shown:
        return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)
    return f"{', '.join(items[:shown])} and {len(items) - shown} more"


def places(edges: list[EdgeRecord]) -> str:
    return listed([e.path or e.text for e in edges])


class CheckerBase:
    """Neutral records, and the errors and warnings found in them."""

    def __init__(
        self, nodes: list[NodeRecord], edges: list[EdgeRecord], explicit_edges: bool
    ) -> None:
        self.nodes = nodes
        self.edges = edges
        self.explicit_edges = explicit_edges
        self.by_id: dict[str, NodeRecord] = {}
        for node in nodes:
            self.by_id.setdefault(node.id, node)
        self.errors: list[SpecIssue] = []
        self.warnings: list[SpecIssue] = []
        self.in_cycle: set[str] = set()
        self.compensated: set[str] = set()  # tasks with a compensation node (set by wiring)
        self.linked: set[str] = set()  # compensation nodes linked to a task
        self.incoming: dict[str, int] = {}  # forward node -> forward in-degree

    def error(self, code: str, message: str, **where: str | None) -> None:
        self.errors.append(SpecIssue(code, message, **where))

    def warn(self, code: str, message: str, node_id: str | None, suggestion: str) -> None:
        self.warnings.append(SpecIssue(code, message, node_id=node_id, suggestion=suggestion))

    def forward(self, node_id: str) -> bool:
        node = self.by_id.get(node_id)
        return node is not None and node.type != "compensation"

    def _template(self, node: NodeRecord) -> None:
        """An approval's message: text with ``{{ expression }}`` parts."""
        try:
            check_template(node.message or "")
        except ExpressionError as exc:
            self.error(
                "BAD_TEMPLATE",
                f"approval '{node.id}': message template is not allowed: {exc.message}",
                node_id=node.id,
                path=f"nodes[{node.index}].message",
            )

    def _expression(
        self,
        text: str,
        what: str,
        node_id: str | None,
        edge_id: str | None,
        path: str | None,
        field: str = "condition",
    ) -> None:
        try:
            check_expression(text)
        except ExpressionError as exc:
            self.error(
                "BAD_EXPRESSION",
                f"{what}: {field} {text!r} is not allowed: {exc.message}",
                node_id=node_id,
                edge_id=edge_id,
                path=path,
            )
