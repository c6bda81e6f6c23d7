"""A spec compiled for fast questions: predecessors, successors, compensations.

Built once per (workflow, version) and shared; immutable.  It does not judge the
spec (the validator does) and tolerates edges to unknown nodes by ignoring them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from orchestrator.spec.model import AnyNode, Edge, WorkflowSpec


@dataclass(frozen=True, slots=True)
class Graph:
    """The forward graph of a workflow and its compensation links."""

    spec: WorkflowSpec
    nodes: Mapping[str, AnyNode]
    order: tuple[str, ...]
    """Every node id in listed order."""
    forward: tuple[str, ...]
    """Non-compensation node ids in listed order."""
    edges: tuple[Edge, ...]
    """Effective forward edges (the implicit chain when the spec lists none)."""
    out_edges: Mapping[str, tuple[Edge, ...]]
    in_edges: Mapping[str, tuple[Edge, ...]]
    entries: tuple[str, ...]
    """Forward nodes without incoming edges, in listed order."""
    compensation_of: Mapping[str, str]
    """Task id -> id of the compensation node that undoes it (either link direction)."""
    index: Mapping[str, int] = field(default_factory=dict)
    """Node id -> position in ``order``."""
    succ: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Node id -> targets of its outgoing edges (computed once: the engine asks often)."""
    pred: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Node id -> sources of its incoming edges."""

    def successors(self, node_id: str) -> tuple[str, ...]:
        """Targets of the node's outgoing edges, in edge order."""
        return self.succ.get(node_id, ())

    def predecessors(self, node_id: str) -> tuple[str, ...]:
        """Sources of the node's incoming edges, in edge order."""
        return self.pred.get(node_id, ())


def compile_graph(spec: WorkflowSpec) -> Graph:
    """Compile ``spec``; edges whose endpoints are unknown or compensation nodes are dropped."""
    nodes: dict[str, AnyNode] = {}
    for node in spec.nodes:
        nodes.setdefault(node.id, node)
    order = tuple(nodes)
    forward = tuple(n for n in order if nodes[n].type != "compensation")
    forward_set = set(forward)
    edges = tuple(
        e for e in spec.flow_edges() if e.source in forward_set and e.target in forward_set
    )
    out_edges: dict[str, list[Edge]] = {n: [] for n in forward}
    in_edges: dict[str, list[Edge]] = {n: [] for n in forward}
    for edge in edges:
        out_edges[edge.source].append(edge)
        in_edges[edge.target].append(edge)
    compensation_of: dict[str, str] = {}
    for node in nodes.values():
        comp = getattr(node, "compensation", None)  # a task's or a sub-workflow's
        if node.type != "compensation" and comp and comp in nodes:
            compensation_of[node.id] = comp
    for node in nodes.values():
        if node.type == "compensation" and node.compensates in nodes:
            compensation_of.setdefault(node.compensates, node.id)
    return Graph(
        spec=spec,
        nodes=MappingProxyType(nodes),
        order=order,
        forward=forward,
        edges=edges,
        out_edges=MappingProxyType({k: tuple(v) for k, v in out_edges.items()}),
        in_edges=MappingProxyType({k: tuple(v) for k, v in in_edges.items()}),
        entries=tuple(n for n in forward if not in_edges[n]),
        compensation_of=MappingProxyType(compensation_of),
        index=MappingProxyType({n: i for i, n in enumerate(order)}),
        succ=MappingProxyType({n: tuple(e.target for e in out_edges[n]) for n in forward}),
        pred=MappingProxyType({n: tuple(e.source for e in in_edges[n]) for n in forward}),
    )
