"""The graph checks of the validator, over small neutral records of nodes and edges
(:mod:`orchestrator.spec.check_base`).

The :class:`Checker` methods each add errors and warnings for one family of problems;
a saga's (compensations) are :class:`~orchestrator.spec.saga_checks.SagaChecks`.
Every check is linear in the size of the spec.
"""

from __future__ import annotations

import graphlib

from orchestrator.spec.check_base import (
    EDGES_PER_NODE,
    GATEWAYS,
    EdgeRecord,
    NodeRecord,
    listed,
    places,
    quoted,
    too_many_edges,
)
from orchestrator.spec.saga_checks import SagaChecks

__all__ = ["EDGES_PER_NODE", "Checker", "EdgeRecord", "NodeRecord", "too_many_edges"]


class Checker(SagaChecks):
    """Runs the checks over neutral records and collects errors and warnings."""

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
                    f"edge {same[0].text} is listed {times} ({places(same)})",
                    node_id=same[0].source if same[0].source in self.by_id else None,
                    edge_id=same[1].id,
                    path=same[1].path,
                )
        for edge_id, same in named.items():
            if len(same) > 1:
                users = listed([e.text for e in same])
                self.error(
                    "DUPLICATE_EDGE",
                    f"edge id '{edge_id}' is used by {users}",
                    node_id=same[1].source if same[1].source in self.by_id else None,
                    edge_id=edge_id,
                    path=same[1].path,
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
            elif node.type == "map" and isinstance(node.condition, str):
                at = f"nodes[{node.index}].items"
                self._expression(node.condition, f"map '{node.id}'", node.id, None, at, "items")
            elif node.type == "approval" and node.message:
                self._template(node)
        for edge in self.edges:
            source = self.by_id.get(edge.source)
            if source is not None and source.type in GATEWAYS and isinstance(edge.condition, str):
                path = f"{edge.path}.condition" if edge.path else None
                self._expression(edge.condition, f"edge {edge.text}", edge.source, edge.id, path)

    # --- semantics (model only) --------------------------------------------------------

    def edge_conditions(self) -> None:
        defaults: dict[str, list[EdgeRecord]] = {}
        for edge in self.edges:
            source = self.by_id.get(edge.source)
            kind = source.type if source is not None else None
            where = {"node_id": edge.source, "edge_id": edge.id, "path": edge.path}
            if edge.default:
                defaults.setdefault(edge.source, []).append(edge)
            if kind in ("decision", "approval"):
                if not isinstance(edge.condition, bool):
                    got = "none" if edge.condition is None else repr(edge.condition)
                    what = "approved" if kind == "approval" else "the condition's value"
                    self.error(
                        "DECISION_BRANCHES",
                        f"edge {edge.text} leaves {kind} '{edge.source}' and needs condition "
                        f"true or false ({what}; got {got})",
                        **where,
                    )
            elif kind in GATEWAYS:
                if edge.default and edge.condition is not None:
                    self.error(
                        "EDGE_CONDITION",
                        f"edge {edge.text} is the default of {kind} '{edge.source}' but also "
                        "has a condition; a default edge has none",
                        **where,
                    )
                elif not edge.default and not isinstance(edge.condition, str):
                    self.error(
                        "EDGE_CONDITION",
                        f"edge {edge.text} leaves {kind} '{edge.source}' and needs an "
                        "expression condition or default: true",
                        **where,
                    )
            elif kind is not None and edge.condition is not None:
                self.error(
                    "EDGE_CONDITION",
                    f"edge {edge.text} has a condition, but '{edge.source}' is a {kind} node; "
                    "only decision, approval, exclusive and inclusive nodes choose between edges",
                    **where,
                )
            if edge.default and kind not in (*GATEWAYS, None):
                self.error(
                    "EDGE_CONDITION",
                    f"edge {edge.text} is marked default, but only the edges of an exclusive "
                    f"or inclusive node can be a default ('{edge.source}' is a {kind} node)",
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
            elif node.type in GATEWAYS:
                marked = defaults.get(node.id, [])
                if len(marked) > 1:
                    self.error(
                        "EDGE_CONDITION",
                        f"{node.type} '{node.id}' has {len(marked)} default edges "
                        f"({', '.join(e.text for e in marked)}); at most one",
                        node_id=node.id,
                    )
                elif not marked:
                    self.warn(
                        "EXCLUSIVE_NO_DEFAULT",
                        f"{node.type} '{node.id}' has no default edge; when no condition "
                        "holds, the gateway fails the run",
                        node.id,
                        f"add an edge from '{node.id}' with default: true",
                    )

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
                f"(nodes: {quoted([n.id for n in forward][:10])})",
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
            if node.cancel_remaining and node.join not in ("any", "n_of_m"):
                self.error(
                    "CANCEL_REMAINING",
                    f"parallel '{node.id}' sets cancel_remaining but joins '{node.join}': an "
                    "all join fires when every branch has ended, so nothing is left to cancel; "
                    "use join: any or n_of_m",
                    node_id=node.id,
                    path=f"nodes[{node.index}].cancel_remaining",
                )
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

    def parameter_validations(self, validations: dict[str, str]) -> None:
        """Each declared parameter's ``validation`` must be an allowed expression."""
        for name, text in validations.items():
            self._expression(
                text, f"parameter '{name}'", None, None, f"parameters.{name}.validation"
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
