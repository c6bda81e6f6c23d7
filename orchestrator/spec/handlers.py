"""Handler names a spec uses against the names someone offers (a registry, live workers).

A misspelt handler (``valdiateData``) is valid YAML and a valid graph, and a run of it
would wait forever for a worker: ``dagq validate --handlers``, ``dagq run --handlers``
and the designer's Problems name the node, the handler and the nearest offered names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orchestrator.spec.loader import SpecIssue
from orchestrator.spec.model import WorkflowSpec

UNKNOWN_HANDLER = "UNKNOWN_HANDLER"


def used_handlers(spec: WorkflowSpec) -> dict[str, str]:
    """``node id -> handler`` of every node that runs one, in the spec's order."""
    found: dict[str, str] = {}
    for node in spec.nodes:
        handler = getattr(node, "handler", None)
        if isinstance(handler, str):
            found[node.id] = handler
    return found


def handlers_in_data(nodes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``node id -> handler`` of raw node mappings (a design that may not build yet)."""
    found: dict[str, str] = {}
    for node in nodes:
        node_id, handler = node.get("id"), node.get("handler")
        if isinstance(node_id, str) and isinstance(handler, str) and handler:
            found[node_id] = handler
    return found


def nearest(name: str, offered: Iterable[str], *, count: int = 3) -> list[str]:
    """The offered names closest to ``name`` (case-insensitive), best first."""
    choices = {o.lower(): o for o in sorted(offered)}
    close = difflib.get_close_matches(name.lower(), list(choices), n=count, cutoff=0.6)
    return [choices[c] for c in close]


def handler_issues(
    used: WorkflowSpec | Mapping[str, str], offered: Iterable[str], *, by: str
) -> list[SpecIssue]:
    """One ``UNKNOWN_HANDLER`` issue per node (of a spec, or ``node id -> handler``) whose
    handler is not in ``offered``.

    ``by`` completes "which no ... offers": ``"live worker"``, ``"handler of FILE"``.
    """
    names = set(offered)
    issues: list[SpecIssue] = []
    pairs = used_handlers(used) if isinstance(used, WorkflowSpec) else used
    for node_id, handler in pairs.items():
        if handler in names:
            continue
        close = nearest(handler, names)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        issues.append(
            SpecIssue(
                UNKNOWN_HANDLER,
                f"node '{node_id}' uses handler '{handler}', which no {by} offers{hint}",
                node_id=node_id,
                path=f"nodes.{node_id}.handler",
                suggestion=close[0] if close else None,
            )
        )
    return issues
