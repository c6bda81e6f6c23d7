"""Two runs side by side, and per-node duration statistics over many runs.

Pure over run states and their timelines (:mod:`orchestrator.engine.timeline`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.engine.state import RunState

_MISSING = object()


def json_diff(a: Any, b: Any, path: str = "") -> list[dict[str, Any]]:
    """Where two JSON values differ: ``{"path", "op": added|removed|changed, "a", "b"}``."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[dict[str, Any]] = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}/{key}"
            if key not in a:
                out.append({"path": sub, "op": "added", "b": b[key]})
            elif key not in b:
                out.append({"path": sub, "op": "removed", "a": a[key]})
            else:
                out += json_diff(a[key], b[key], sub)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in json_diff(x, y, f"{path}/{i}")
        ]
    if a == b and type(a) is type(b):
        return []
    return [{"path": path or "/", "op": "changed", "a": a, "b": b}]


def compare_runs(
    a: RunState,
    b: RunState,
    durations_a: Mapping[str, int],
    durations_b: Mapping[str, int],
    version_diff: Mapping[str, str] | None = None,
    execution: tuple[Mapping[str, int], Mapping[str, int]] = ({}, {}),
) -> dict[str, Any]:
    """What differs between runs ``a`` and ``b`` of one workflow.

    ``branches``: nodes whose status differs (one ran, the other skipped it...) or whose
    gateway took other edges; ``outputs``: a JSON diff per node; ``durations``: each
    node's duration (release to end; ``execution``: time running) in both and the
    change; ``version_diff``: node -> kind of change
    between the pinned versions, when they differ.
    """
    # Nodes in the order they ran (the durations come from timelines), then the rest.
    nodes = list(dict.fromkeys([*durations_a, *durations_b, *a.nodes, *b.nodes]))
    branches = []
    outputs = {}
    durations = []
    for node in nodes:
        sa, sb = a.nodes.get(node), b.nodes.get(node)
        status_a = sa.status if sa else None
        status_b = sb.status if sb else None
        taken_a = list(sa.taken) if sa and sa.taken is not None else None
        taken_b = list(sb.taken) if sb and sb.taken is not None else None
        if status_a != status_b or taken_a != taken_b:
            branches.append(
                {"node": node, "a": status_a, "b": status_b, "taken_a": taken_a, "taken_b": taken_b}
            )
        diff = json_diff(dict(sa.output or {}) if sa else {}, dict(sb.output or {}) if sb else {})
        if diff:
            outputs[node] = diff
        da, db = durations_a.get(node), durations_b.get(node)
        if da is not None or db is not None:
            change = None if da is None or db is None else db - da
            ratio = None if change is None or not da else round(change / da, 4)
            durations.append(
                {
                    "node": node,
                    "a_ms": da,
                    "b_ms": db,
                    "change_ms": change,
                    "change": ratio,
                    "a_exec_ms": execution[0].get(node),
                    "b_exec_ms": execution[1].get(node),
                }
            )
    return {
        "workflow": a.workflow_id,
        "runs": [a.run_id, b.run_id],
        "statuses": [a.status, b.status],
        "versions": [a.workflow_version, b.workflow_version],
        "versions_differ": a.workflow_version != b.workflow_version,
        "version_diff": dict(version_diff or {}),
        "params": json_diff(dict(a.params), dict(b.params)),
        "branches": branches,
        "outputs": outputs,
        "durations": durations,
    }


def percentile(values: Sequence[int], q: float) -> int:
    """The ``q`` percentile (0-100) of ``values``, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def node_stats(
    per_run: Sequence[Mapping[str, int]], execution: Sequence[Mapping[str, int]] = ()
) -> dict[str, dict[str, int]]:
    """p50/p95/max duration (ms) and run count per node over runs' node durations, and
    p50/p95 of the time executing when ``execution`` (per run, same order) is given."""
    samples: dict[str, list[int]] = {}
    running: dict[str, list[int]] = {}
    for durations in per_run:
        for node, ms in durations.items():
            samples.setdefault(node, []).append(ms)
    for per_node in execution:
        for node, ms in per_node.items():
            running.setdefault(node, []).append(ms)
    out: dict[str, dict[str, int]] = {}
    for node, v in samples.items():
        out[node] = {
            "runs": len(v),
            "p50_ms": percentile(v, 50),
            "p95_ms": percentile(v, 95),
            "max_ms": max(v),
        }
        if running.get(node):
            out[node]["exec_p50_ms"] = percentile(running[node], 50)
            out[node]["exec_p95_ms"] = percentile(running[node], 95)
    return out
