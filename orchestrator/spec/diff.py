"""Compare two versions of a workflow: which nodes were added, removed or changed.

Pure data in, pure data out, so the designer can draw the union of both versions with
:meth:`~app.widgets.canvas_view.CanvasView.set_diff` marks, and a comparison of two runs
of different versions (:mod:`orchestrator.engine.compare`) can say what changed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

DiffKind = Literal["added", "removed", "changed"]
_IGNORED = frozenset({"position"})
"""Moving a node is not a change of the workflow."""


def edge_key(edge: Mapping[str, Any]) -> str:
    """An edge's id, or ``source->target`` (the id the loader derives) when it has none."""
    eid = edge.get("id")
    return eid if isinstance(eid, str) and eid else f"{edge.get('source')}->{edge.get('target')}"


def _meaning(node: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k not in _IGNORED}


def compare(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, DiffKind]]:
    """``(union, diff)``: ``new``'s data plus the nodes and edges only ``old`` had, and
    each differing node's kind of change.  A node whose edges in or out changed counts
    as changed."""
    old_nodes = {str(n.get("id")): n for n in old.get("nodes", [])}
    new_nodes = {str(n.get("id")): n for n in new.get("nodes", [])}
    old_edges = {edge_key(e): e for e in old.get("edges", [])}
    new_edges = {edge_key(e): e for e in new.get("edges", [])}
    diff: dict[str, DiffKind] = {}
    for nid, node in new_nodes.items():
        if nid not in old_nodes:
            diff[nid] = "added"
        elif _meaning(node) != _meaning(old_nodes[nid]):
            diff[nid] = "changed"
    for nid in old_nodes.keys() - new_nodes.keys():
        diff[nid] = "removed"
    for key in old_edges.keys() ^ new_edges.keys():
        edge = old_edges.get(key) or new_edges[key]
        for end in (str(edge.get("source")), str(edge.get("target"))):
            diff.setdefault(end, "changed")
    for key in old_edges.keys() & new_edges.keys():
        if old_edges[key] != new_edges[key]:
            diff.setdefault(str(old_edges[key].get("source")), "changed")
    union = copy.deepcopy(dict(new))
    union["nodes"] = list(union.get("nodes", [])) + [
        copy.deepcopy(old_nodes[nid]) for nid in old_nodes if nid not in new_nodes
    ]
    union["edges"] = list(union.get("edges", [])) + [
        copy.deepcopy(e) for key, e in old_edges.items() if key not in new_edges
    ]
    return union, diff
