"""The upstream reference's fields beside ours, in what the API answers.

The reference (the upstream project's OpenAPI description of this API, whose
examples ``tests/api/test_reference_shapes.py`` posts) and dagq name some things
differently.  Our answers keep our names (the designer, the command line and existing
clients read them) and add the reference's wherever they differ, so a client written
against the reference finds every field it documents:

- a workflow's nodes always have a ``name`` (the reference requires one; ours defaults
  to the id) and the reference's ``config`` object beside our flat fields (seconds as
  numbers), the workflow's ``config`` its camelCase fields beside ours, and a decision's
  edge conditions are the strings ``"true"``/``"false"`` (the reference's
  ``Edge.condition`` is a string; ours is a boolean).  All of it loads back: where both
  forms are given, ours wins;
- a version always has a ``changeLog`` (empty when none was given);
- a run has ``nodeStatuses`` beside ``nodes`` (the same objects), and each node a
  ``nodeName`` and, when it failed, an ``error`` beside ``lastError``;
- a run summary has ``workflowName``, ``completedNodes`` and ``totalNodes``.

Statuses and event types are dagq's own, a superset of the reference's enums (queued,
waiting, cancelled, compensating...): mapping them onto fewer words would lose what the
monitor shows.  Pure functions over the plain dicts the handlers already built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic.alias_generators import to_camel

from orchestrator.durations import DurationError, parse_duration
from orchestrator.engine.state import RunState
from orchestrator.spec.model import RUNNABLE_TYPES
from orchestrator.vocab import NodeStatus


def spec_shape(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec's JSON (snake_case, as stored) with the reference's node names and edge words."""
    nodes = spec.get("nodes")
    if not isinstance(nodes, list):
        return spec
    decisions = {n.get("id") for n in nodes if n.get("type") == "decision"}
    out = dict(spec)
    out["nodes"] = [
        {**n, "name": n.get("name") or n.get("id"), "config": _node_config(n)} for n in nodes
    ]
    out["config"] = _workflow_config(spec)
    out["edges"] = [
        {**e, "condition": "true" if e["condition"] else "false"}
        if e.get("source") in decisions and isinstance(e.get("condition"), bool)
        else e
        for e in spec.get("edges") or []
    ]
    return out


def _seconds(value: Any) -> Any:
    """A stored duration (``"1m30s"``) as the reference's seconds (whole when it is)."""
    try:
        seconds = parse_duration(value)
    except DurationError:
        return value
    return int(seconds) if seconds.is_integer() else seconds


def _node_config(node: dict[str, Any]) -> dict[str, Any]:
    """The reference's ``config`` object of a node (Task/Decision/Delay/Gateway/Compensation)."""
    kind = node.get("type")
    config: dict[str, Any] = {}
    if kind in RUNNABLE_TYPES:
        config["handler"] = node.get("handler")
        for ours, theirs in (("timeout", "timeout"), ("retries", "retries")):
            if node.get(ours) is not None:
                config[theirs] = _seconds(node[ours]) if ours == "timeout" else node[ours]
        policy = node.get("retry_policy")
        if isinstance(policy, dict):
            config["retryBackoff"] = {
                "type": policy.get("backoff", "exponential"),
                **{
                    to_camel(k): _seconds(v)
                    for k, v in policy.items()
                    if k in ("initial_interval", "max_interval")
                },
                **({"multiplier": policy["multiplier"]} if "multiplier" in policy else {}),
            }
    if kind == "task" and node.get("compensation"):
        config["compensationNode"] = node["compensation"]
    elif kind == "compensation":
        config["strategy"] = node.get("strategy", "immediate")
        if node.get("compensates"):
            config["compensates"] = node["compensates"]
    elif kind == "decision":
        config["condition"] = node.get("condition")
    elif kind == "delay":
        if node.get("duration") is not None:
            config["duration"] = _seconds(node["duration"])
        if node.get("cron") is not None:
            config["cron"] = node["cron"]
    elif kind in ("parallel", "exclusive"):
        config["gatewayType"] = kind
        if kind == "parallel":
            config["joinStrategy"] = node.get("join", "all")
            if node.get("join_count") is not None:
                config["joinCount"] = node["join_count"]
    return config


def _workflow_config(spec: dict[str, Any]) -> dict[str, Any]:
    """Our ``config`` plus the reference's camelCase ``WorkflowConfig`` fields."""
    ours: dict[str, Any] = dict(spec.get("config") or {})
    theirs: dict[str, Any] = {"compensationStrategy": spec.get("compensation_strategy", "none")}
    for name, value in ours.items():
        theirs[to_camel(name)] = _seconds(value) if name == "max_execution_time" else value
    return {**ours, **theirs}


def version_shape(version: dict[str, Any]) -> dict[str, Any]:
    """A stored version's JSON with its spec shaped and a ``changeLog`` always present."""
    out = {**version, "spec": spec_shape(version["spec"])}
    out.setdefault("changeLog", "")
    return out


def run_shape(view: dict[str, Any]) -> dict[str, Any]:
    """A run's view with ``nodeStatuses``, and each node's ``nodeName`` and ``error``."""
    nodes: dict[str, dict[str, Any]] = view.get("nodes") or {}
    for node_id, node in nodes.items():
        node_shape(node, node_id)
    view["nodeStatuses"] = nodes
    return view


def node_shape(node: dict[str, Any], node_id: str | None = None) -> dict[str, Any]:
    """One node's view with the reference's ``nodeName`` (the id when unnamed) and ``error``."""
    node.setdefault("nodeName", node_id or node.get("nodeId"))
    if node.get("status") == NodeStatus.FAILED and node.get("lastError"):
        node.setdefault("error", node["lastError"])
    return node


def summary_shape(
    summary: dict[str, Any], state: RunState | None, workflow_name: str | None
) -> dict[str, Any]:
    """A run summary with the workflow's name and the run's node counts (when known)."""
    if workflow_name:
        summary["workflowName"] = workflow_name
    if state is not None:
        summary["completedNodes"] = sum(
            1 for n in state.nodes.values() if n.status == NodeStatus.COMPLETED
        )
        summary["totalNodes"] = len(state.nodes)
    return summary


def summaries_shape(
    summaries: Sequence[dict[str, Any]],
    states: Mapping[str, RunState],
    names: Mapping[tuple[str, int], str | None],
) -> list[dict[str, Any]]:
    """:func:`summary_shape` over a page of summaries."""
    return [
        summary_shape(s, states.get(s["id"]), names.get((s["workflowId"], s["workflowVersion"])))
        for s in summaries
    ]
