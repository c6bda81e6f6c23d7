"""The upstream reference's ways of writing a decision, turned into ours.

The reference (the upstream project's OpenAPI description of this API, whose
examples ``tests/api/test_reference_shapes.py`` posts) writes a decision edge's
condition as the string ``"true"``/``"false"`` and may list a decision's paths as
``config.branches`` (``[{condition, targetNode, label}]``, with a ``defaultBranch``).
These run on the raw data before the model is built, so the stored spec is in dagq's
canonical form: boolean decision edges, expression branches as an exclusive gateway.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _target(branch: dict[str, Any]) -> Any:
    return branch.get("targetNode", branch.get("target_node", branch.get("target")))


_BOOLEAN_WORDS = {"true": True, "false": False}


def _word(value: Any) -> bool | None:
    """``True``/``False`` for the strings "true"/"false" (any case), else ``None``."""
    return _BOOLEAN_WORDS.get(value.strip().lower()) if isinstance(value, str) else None


def decision_booleans(nodes: Any, edges: list[Any]) -> list[Any]:
    """A decision's edges written ``condition: "true"`` (the reference's string) mean the
    boolean; an exclusive edge's ``"true"`` stays an expression that always holds."""
    decisions = {
        n["id"]
        for n in nodes or []
        if isinstance(n, dict) and n.get("type") == "decision" and isinstance(n.get("id"), str)
    }
    out: list[Any] = []
    for edge in edges:
        if isinstance(edge, dict) and _text(edge.get("source")) in decisions:
            word = _word(edge.get("condition"))
            if word is not None:
                edge = {**edge, "condition": word}
        out.append(edge)
    return out


def expand_branches(nodes: list[Any], edges: list[Any]) -> list[Any] | None:
    """The reference's ``DecisionNodeConfig.branches`` as edges; ``None`` when there are none.

    Branches of ``"true"``/``"false"`` are the decision's two edges.  Branches of
    expressions (and a ``defaultBranch``) describe a choice between paths: the node
    becomes an exclusive gateway, whose edges carry the expressions and the default.
    An edge already listed between the same two nodes takes the branch's condition.
    """
    found = False
    for node in nodes:
        if not isinstance(node, dict) or node.get("type") != "decision":
            continue
        branches = node.pop("branches", None)
        default = node.pop("defaultBranch", node.pop("default_branch", None))
        if branches is None and default is None:
            continue
        found = True
        if not isinstance(branches, list) or not all(isinstance(b, dict) for b in branches):
            raise PydanticCustomError(
                "decision_branches",
                "decision '{id}': branches must be a list of {{condition, targetNode}}",
                {"id": node.get("id")},
            )
        words = [_word(b.get("condition")) for b in branches]
        if branches and all(w is not None for w in words) and default is None:
            wanted = [(b, {"condition": w}) for b, w in zip(branches, words, strict=True)]
        elif "condition" in node:
            raise PydanticCustomError(
                "decision_branches",
                "decision '{id}' has a condition, so its branches must be \"true\" and "
                '"false"; for a choice between expressions leave the condition out',
                {"id": node.get("id")},
            )
        else:
            node["type"] = "exclusive"
            wanted = [(b, {"condition": b.get("condition")}) for b in branches]
            if default is not None:
                wanted.append(({"targetNode": default}, {"default": True}))
        for branch, fields in wanted:
            if branch.get("label") is not None:
                fields["label"] = branch["label"]
            _branch_edge(edges, node.get("id"), _target(branch), fields)
    return edges if found else None


def _branch_edge(edges: list[Any], source: Any, target: Any, fields: dict[str, Any]) -> None:
    for i, edge in enumerate(edges):
        if isinstance(edge, dict) and edge.get("source") == source and edge.get("target") == target:
            if edge.get("condition") is None and not edge.get("default"):
                edges[i] = {**edge, **fields}
            return
    edges.append({"source": source, "target": target, **fields})
