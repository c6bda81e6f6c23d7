"""A run as the API shows it: the design's Runtime State Model, camelCase."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from orchestrator.engine.state import PARENT, NodeState, RunState


def iso(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC (``...Z``)."""
    if ms is None:
        return None
    return (
        datetime.fromtimestamp(ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def node_view(node_id: str, node: NodeState, *, name: str | None = None) -> dict[str, Any]:
    """One node as the API shows it (design's Runtime State Model, camelCase)."""
    view: dict[str, Any] = {
        "nodeId": node_id,
        "status": node.status,
        "attempts": node.attempts,
    }
    if name:
        view["nodeName"] = name
    for key, value in (
        ("startTime", iso(node.start_ms)),
        ("endTime", iso(node.end_ms)),
        ("dueTime", iso(node.due_ms)),
        ("lastError", node.last_error),
        ("worker", node.worker),
    ):
        if value is not None:
            view[key] = value
    if node.start_ms is not None and node.end_ms is not None:
        view["duration"] = max(0, node.end_ms - node.start_ms)
    if node.input is not None:
        view["input"] = dict(node.input)
    if node.output is not None:
        view["output"] = dict(node.output)
    if node.taken is not None:
        view["takenEdges"] = list(node.taken)
    if node.progress is not None:
        view["progress"] = progress_view(node.progress)
    if node.child is not None:
        view["childRunId"] = node.child
    if node.decisions:
        view["decisions"] = [dict(d) for d in node.decisions]
    return view


def progress_view(progress: Mapping[str, int]) -> dict[str, int]:
    """A map node's counts: ``total``, ``done``, ``failed``, ``inFlight`` (queued, running or
    backing off)."""
    return {
        "total": progress.get("total", 0),
        "done": progress.get("done", 0),
        "failed": progress.get("failed", 0),
        "inFlight": progress.get("active", 0),
    }


def run_view(state: RunState, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A run as the API shows it: the design's Runtime State Model, camelCase."""
    names = names or {}
    view: dict[str, Any] = {
        "runId": state.run_id,
        "id": state.run_id,
        "workflowId": state.workflow_id,
        "workflowVersion": state.workflow_version,
        "status": state.status,
        "startTime": iso(state.start_ms),
        "nodes": {nid: node_view(nid, st, name=names.get(nid)) for nid, st in state.nodes.items()},
        "context": {"parameters": dict(state.params), "variables": dict(state.variables)},
        "parameters": dict(state.params),
        "priority": state.priority,
    }
    if state.end_ms is not None:
        view["endTime"] = iso(state.end_ms)
        view["duration"] = max(0, state.end_ms - state.start_ms)
    if state.error is not None:
        view["error"] = state.error
    if state.error_node is not None:
        view["errorNode"] = state.error_node
    if state.output is not None:
        view["output"] = dict(state.output)
    if state.epoch:
        view["retries"] = state.epoch
    if state.meta:
        view["metadata"] = dict(state.meta)
    parent = state.meta.get(PARENT)
    if isinstance(parent, Mapping):
        view["parent"] = {"runId": parent.get("runId"), "nodeId": parent.get("nodeId")}
    children = [st.child for st in state.nodes.values() if st.child is not None]
    children += [st.child for st in state.items.values() if st.child is not None]
    if children:
        view["children"] = children
    return view
