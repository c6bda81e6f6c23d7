"""The graph checks of the validator, over small neutral records of nodes and edges.

The records (:class:`NodeRecord`, :class:`EdgeRecord`) are built by the validator
either from a built model or, best effort, from raw data the model refused; the
:class:`Checker` methods each add errors and warnings for one family of problems.
Every check is linear in the size of the spec.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass

from orchestrator.spec.expressions import ExpressionError, check_expression
from orchestrator.spec.loader import SpecIssue


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


EDGES_PER_NODE = 10
"""A workflow may have at most this many edges per allowed node (``max_nodes`` x 10)."""


def too_many_edges(count: int, max_nodes: int) -> str:
    """The message of TOO_MANY_EDGES."""
    return (
        f"the workflow has {count} edges; the limit is {max_nodes * EDGES_PER_NODE} "
        f"({EDGES_PER_NODE} per node of the {max_nodes}-node limit)"
    )


def _names(ids: list[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)


def _listed(items: list[str], shown: int = 3) -> str:
    """``a and b``, ``a, b, c and 17 more``."""
    if len(items) <= shown:
        return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)
    return f"{', '.join(items[:shown])} and {len(items) - shown} more"


def _places(edges: list[EdgeRecord]) -> str:
    return _listed([e.path or e.text for e in edges])


class Checker:
    """Runs the checks over neutral records and collects errors and warnings."""

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

    # --- structure (also run on raw data) ----------------------------------------------

    def size(self, max_nodes: int) -> None:
        if len(self.nodes) > max_nodes:
            self.error(
                "TOO_MANY_NODES",
                f"the workflow has {len(self.nodes)} nodes; the limit is {max_nodes}",
            )
        if len(self.edges) > max_nodes * EDGES_PER_NODE:
            self.error("TOO_MANY_EDGES", too_many_edges(len(self.edges), max_nodes))

    def duplicate_nodes(self) -> None:
        places: dict[str, list[int]] = {}
        for node in self.nodes:
            places.setdefault(node.id, []).append(node.index)
        for node_id, where in places.items():
            if len(where) > 1:
                at = " and ".join(f"nodes[{i}]" for i in where)
                self.error(
                    "DUPLICATE_NODE",
                    f"node id '{node_id}' is used by {len(where)} nodes ({at}); ids must be unique",
                    node_id=node_id,
                    path=f"nodes[{where[1]}].id",
                )

    def edge_structure(self) -> None:
        copies: dict[tuple[str, str], list[EdgeRecord]] = {}
        named: dict[str, list[EdgeRecord]] = {}
        for edge in self.edges:
            known = [e for e in (edge.source, edge.target) if e in self.by_id]
            where = {"node_id": known[0] if known else None, "edge_id": edge.id, "path": edge.path}
            for end, role in ((edge.source, "comes from"), (edge.target, "goes to")):
                if end not in self.by_id:
                    self.error(
                        "UNKNOWN_NODE",
                        f"edge {edge.text} {role} '{end}', which is not a node of this workflow",
                        **where,
                    )
            same_pair = copies.setdefault((edge.source, edge.target), [])
            same_pair.append(edge)
            if len(same_pair) == 1:
                named.setdefault(edge.id, []).append(edge)
        # One error per duplicated pair or id, however many copies: 20,000 copies of one
        # edge are one mistake, not 19,999.
        for same in copies.values():
            if len(same) > 1:
                times = "twice" if len(same) == 2 else f"{len(same)} times"
                self.error(
                    "DUPLICATE_EDGE",
                    f"edge {same[0].text} is listed {times} ({_places(same)})",
                    node_id=same[0].source if same[0].source in self.by_id else None,
                    edge_id=same[1].id,
                    path=same[1].path,
                )
        for edge_id, same in named.items():
            if len(same) > 1:
                users = _listed([e.text for e in same])
                self.error(
                    "DUPLICATE_EDGE",
                    f"edge id '{edge_id}' is used by {users}",
                    node_id=same[1].source if same[1].source in self.by_id else None,
                    edge_id=edge_id,
                    path=same[1].path,
                )

    def compensation_links(self, *, types_known: bool) -> None:
        for node in self.nodes:
            link, field, want = (
                (node.compensation, "compensation", "compensation")
                if node.type == "task"
                else (node.compensates, "compensates", "task")
            )
            if link is None:
                continue
            target = self.by_id.get(link)
            where = {"node_id": node.id, "path": f"nodes[{node.index}].{field}"}
            if target is None:
                self.error(
                    "UNKNOWN_NODE",
                    f"node '{node.id}' has {field}: '{link}', which is not a node of this workflow",
                    **where,
                )
            elif types_known and target.type != want:
                self.error(
                    "COMPENSATION_TARGET",
                    f"{node.type} '{node.id}' names '{link}' in {field}, but '{link}' is a "
                    f"{target.type} node, not a {want} node",
                    **where,
                )

    def cycles(self) -> None:
        succ: dict[str, list[str]] = {n: [] for n in self.by_id if self.forward(n)}
        for edge in self.edges:
            if edge.source in succ and edge.target in succ:
                succ[edge.source].append(edge.target)
        for component in strongly_connected(succ):
            members = set(component)
            if len(component) == 1 and component[0] not in succ[component[0]]:
                continue
            preds: dict[str, list[str]] = {n: [] for n in component}
            for n in component:
                for m in succ[n]:
                    if m in members:
                        preds[m].append(n)
            try:
                graphlib.TopologicalSorter(preds).prepare()
                continue  # unreachable: a strongly connected component always has a cycle
            except graphlib.CycleError as exc:
                loop: list[str] = list(exc.args[1])[:-1]
            start = min(range(len(loop)), key=lambda i: self.by_id[loop[i]].index)
            loop = loop[start:] + loop[:start]
            self.in_cycle |= members
            self.error(
                "CYCLE",
                f"cycle: {' -> '.join([*loop, loop[0]])}; a workflow must not loop back "
                "(self loops included)",
                node_id=loop[0],
            )

    def expressions(self) -> None:
        for node in self.nodes:
            if node.type == "decision" and isinstance(node.condition, str):
                self._expression(
                    node.condition, f"decision '{node.id}'", node.id, None, _condition_path(node)
                )
        for edge in self.edges:
            source = self.by_id.get(edge.source)
            if (
                source is not None
                and source.type == "exclusive"
                and isinstance(edge.condition, str)
            ):
                path = f"{edge.path}.condition" if edge.path else None
                self._expression(edge.condition, f"edge {edge.text}", edge.source, edge.id, path)

    def _expression(
        self, text: str, what: str, node_id: str | None, edge_id: str | None, path: str | None
    ) -> None:
        try:
            check_expression(text)
        except ExpressionError as exc:
            self.error(
                "BAD_EXPRESSION",
                f"{what}: condition {text!r} is not allowed: {exc.message}",
                node_id=node_id,
                edge_id=edge_id,
                path=path,
            )

    # --- semantics (model only) --------------------------------------------------------

    def edge_conditions(self) -> None:
        defaults: dict[str, list[EdgeRecord]] = {}
        for edge in self.edges:
            source = self.by_id.get(edge.source)
            kind = source.type if source is not None else None
            where = {"node_id": edge.source, "edge_id": edge.id, "path": edge.path}
            if edge.default:
                defaults.setdefault(edge.source, []).append(edge)
            if kind == "decision":
                if not isinstance(edge.condition, bool):
                    got = "none" if edge.condition is None else repr(edge.condition)
                    self.error(
                        "DECISION_BRANCHES",
                        f"edge {edge.text} leaves decision '{edge.source}' and needs condition "
                        f"true or false (got {got})",
                        **where,
                    )
            elif kind == "exclusive":
                if edge.default and edge.condition is not None:
                    self.error(
                        "EDGE_CONDITION",
                        f"edge {edge.text} is the default of exclusive '{edge.source}' but also "
                        "has a condition; a default edge has none",
                        **where,
                    )
                elif not edge.default and not isinstance(edge.condition, str):
                    self.error(
                        "EDGE_CONDITION",
                        f"edge {edge.text} leaves exclusive '{edge.source}' and needs an "
                        "expression condition or default: true",
                        **where,
                    )
            elif kind is not None and edge.condition is not None:
                self.error(
                    "EDGE_CONDITION",
                    f"edge {edge.text} has a condition, but '{edge.source}' is a {kind} node; "
                    "only decision and exclusive nodes choose between edges",
                    **where,
                )
            if edge.default and kind not in ("exclusive", None):
                self.error(
                    "EDGE_CONDITION",
                    f"edge {edge.text} is marked default, but only the edges of an exclusive "
                    f"node can be a default ('{edge.source}' is a {kind} node)",
                    **where,
                )
        outgoing: dict[str, list[EdgeRecord]] = {}
        for edge in self.edges:
            outgoing.setdefault(edge.source, []).append(edge)
        for node in self.nodes:
            out = outgoing.get(node.id, [])
            if node.type == "decision":
                for value, word in ((True, "true"), (False, "false")):
                    if not any(e.condition is value for e in out):
                        self.error(
                            "DECISION_BRANCHES",
                            f"decision '{node.id}' has no {word} branch: add an edge from "
                            f"'{node.id}' with condition: {word}",
                            node_id=node.id,
                        )
            elif node.type == "exclusive":
                marked = defaults.get(node.id, [])
                if len(marked) > 1:
                    self.error(
                        "EDGE_CONDITION",
                        f"exclusive '{node.id}' has {len(marked)} default edges "
                        f"({', '.join(e.text for e in marked)}); at most one",
                        node_id=node.id,
                    )
                elif not marked:
                    self.warn(
                        "EXCLUSIVE_NO_DEFAULT",
                        f"exclusive '{node.id}' has no default edge; when no condition holds, "
                        "nothing after it runs",
                        node.id,
                        f"add an edge from '{node.id}' with default: true",
                    )

    def compensation_wiring(self) -> None:
        for edge in self.edges:
            for end in (edge.source, edge.target):
                node = self.by_id.get(end)
                if node is not None and node.type == "compensation":
                    self.error(
                        "COMPENSATION_TARGET",
                        f"compensation node '{end}' is wired into the forward graph by edge "
                        f"{edge.text}; compensation nodes run only when a saga rolls back, so "
                        "link them with compensation/compensates instead of edges",
                        node_id=end,
                        edge_id=edge.id,
                        path=edge.path,
                    )
                    break
        claims: dict[str, set[str]] = {}  # compensation node -> tasks linked to it
        for node in self.nodes:
            comp = self.by_id.get(node.compensation or "") if node.type == "task" else None
            if comp is not None and comp.type == "compensation":
                claims.setdefault(comp.id, set()).add(node.id)
            task = self.by_id.get(node.compensates or "") if node.type == "compensation" else None
            if task is not None and task.type == "task":
                claims.setdefault(node.id, set()).add(task.id)
        for comp_id, tasks in claims.items():
            if len(tasks) > 1:
                names = sorted(tasks, key=lambda t: self.by_id[t].index)
                self.error(
                    "COMPENSATION_TARGET",
                    f"compensation node '{comp_id}' is linked to tasks {_names(names)} "
                    "(by compensation on a task or compensates on the node); the links "
                    "disagree: each task needs its own compensation node",
                    node_id=comp_id,
                )
        self.compensated = {t for tasks in claims.values() for t in tasks}
        self.linked = set(claims)

    def entries_and_reach(self) -> None:
        forward = [n for n in self.nodes if n.type != "compensation" and self.by_id[n.id] is n]
        if not forward:
            self.error("NO_ENTRY", "the workflow has only compensation nodes; add a task to run")
            return
        ins: dict[str, int] = {n.id: 0 for n in forward}
        outs: dict[str, list[str]] = {n.id: [] for n in forward}
        for edge in self.edges:
            if edge.source in outs and edge.target in outs:
                ins[edge.target] += 1
                outs[edge.source].append(edge.target)
        entries = [n.id for n in forward if ins[n.id] == 0]
        if not entries:
            self.error(
                "NO_ENTRY",
                "every node has an incoming edge, so the workflow has nowhere to start "
                f"(nodes: {_names([n.id for n in forward][:10])})",
                node_id=forward[0].id,
            )
        seen, todo = set(entries), list(entries)
        while todo:
            for nxt in outs[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for node in forward:
            if self.explicit_edges and len(forward) > 1 and not ins[node.id] and not outs[node.id]:
                self.warn(
                    "ISOLATED_NODE",
                    f"node '{node.id}' has no edges; it starts on its own, in parallel with "
                    "the rest of the workflow",
                    node.id,
                    f"connect '{node.id}' to the workflow with an edge, or remove it",
                )
            elif entries and node.id not in seen and node.id not in self.in_cycle:
                self.warn(
                    "UNREACHABLE",
                    f"node '{node.id}' cannot be reached from any starting node",
                    node.id,
                    f"check the edges into '{node.id}'",
                )
        self.incoming = ins

    def joins(self) -> None:
        for node in self.nodes:
            if node.type != "parallel":
                continue
            where = {"node_id": node.id, "path": f"nodes[{node.index}].join_count"}
            incoming = self.incoming.get(node.id, 0)
            if node.join == "n_of_m" and node.join_count is None:
                self.error(
                    "JOIN_COUNT",
                    f"parallel '{node.id}' joins n_of_m but sets no join_count",
                    **where,
                )
            elif node.join != "n_of_m" and node.join_count is not None:
                self.error(
                    "JOIN_COUNT",
                    f"parallel '{node.id}' sets join_count {node.join_count} but joins "
                    f"'{node.join}'; join_count only applies to join: n_of_m",
                    **where,
                )
            elif node.join_count is not None and node.join_count > incoming:
                self.error(
                    "JOIN_COUNT",
                    f"parallel '{node.id}' waits for {node.join_count} inputs but has only "
                    f"{incoming} incoming edge{'s' if incoming != 1 else ''}",
                    **where,
                )

    def saga(self, strategy: str) -> None:
        comps = [n for n in self.nodes if n.type == "compensation"]
        if strategy == "saga":
            for node in self.nodes:
                if node.type == "task" and node.id not in self.compensated:
                    self.warn(
                        "MISSING_COMPENSATION",
                        f"task '{node.id}' has no compensation; if a later step fails, what it "
                        "did is not undone",
                        node.id,
                        f"add a compensation node with compensates: {node.id}",
                    )
        elif comps:
            self.warn(
                "COMPENSATION_UNUSED",
                f"compensation nodes {_names([c.id for c in comps])} never run because "
                f"compensation_strategy is '{strategy}'",
                comps[0].id,
                "set compensation_strategy: saga",
            )
        for comp in comps:
            if comp.id not in self.linked and comp.compensates is None:
                self.warn(
                    "ORPHAN_COMPENSATION",
                    f"compensation node '{comp.id}' is not linked to any task, so it never runs",
                    comp.id,
                    f"set compensates: <task id> on '{comp.id}', or compensation: {comp.id} "
                    "on the task it undoes",
                )

    def parameter_validations(self, validations: dict[str, str]) -> None:
        """Each declared parameter's ``validation`` must be an allowed expression."""
        for name, text in validations.items():
            self._expression(
                text, f"parameter '{name}'", None, None, f"parameters.{name}.validation"
            )

    def compensation_strategies(self) -> None:
        """``strategy: manual`` (the reference's) is accepted, but dagq runs it anyway."""
        for node in self.nodes:
            if node.type == "compensation" and node.strategy == "manual":
                self.warn(
                    "COMPENSATION_STRATEGY",
                    f"compensation node '{node.id}' has strategy manual, but dagq runs every "
                    "compensation itself when a saga rolls back",
                    node.id,
                    "leave strategy out (immediate), or leave the node out and undo by hand",
                )


def _condition_path(node: NodeRecord) -> str:
    """The path of a decision node's condition."""
    return f"nodes[{node.index}].condition"


def strongly_connected(succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a 500-node chain would overflow the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for root in succ:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ[root]))]
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w])))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    component: list[str] = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    out.append(component)
    return out
