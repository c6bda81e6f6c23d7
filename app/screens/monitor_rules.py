"""The Monitor's decisions, apart from its widgets: what may be done to a run, which
node to show first, which zoom fits.  Pure functions, so they are tested alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from app.canvas.layout import ZOOM_LEVELS, compute_layout
from app.canvas.model import CanvasGraph
from orchestrator.vocab import NodeStatus, RunStatus
from orchestrator.wire.runs import WorkflowRun

CANCELLABLE = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
RETRYABLE = frozenset({RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.COMPENSATED})
FIRST_LOOK = (NodeStatus.RUNNING, NodeStatus.QUEUED, NodeStatus.WAITING, NodeStatus.COMPENSATING)
"""Statuses worth selecting when a run opens (after its failed node)."""


def action_reason(
    action: str,
    run: WorkflowRun | None,
    blocked: Callable[[str], str],
    *,
    node_id: str | None = None,
    node_type: str | None = None,
) -> str:
    """Why ``action`` (``cancel``, ``retry``, ``retry-node``) cannot run now; empty if it can.

    ``blocked(perm)`` is the session's reason for a missing permission; ``node_id`` and
    ``node_type`` describe the node selected on the canvas (for ``retry-node``).
    """
    if action == "cancel":
        if reason := blocked("run:cancel"):
            return reason
        if run is None:
            return "no run selected"
        if run.status not in CANCELLABLE:
            return f"the run is {run.status}; only pending or running runs can be cancelled"
        return ""
    if reason := blocked("workflow:execute"):
        return reason
    if run is None:
        return "no run selected"
    if run.status not in RETRYABLE:
        return f"the run is {run.status}; only failed, cancelled or compensated runs can be retried"
    if action == "retry-node":
        if node_id is None:
            return "select the node to retry from on the canvas"
        if node_type == "compensation":
            return f"{node_id} is a compensation node; retry from the task it undoes"
    return ""


def confirmation(action: str, run_id: str, node_id: str | None = None) -> tuple[str, str, str]:
    """What to ask before ``action`` (``cancel``, ``retry``, ``retry-node``) on ``run_id``:
    the question, the confirm button and the keep button, each saying what it does."""
    if action == "cancel":
        return (
            f"Cancel run {run_id}? Its unfinished nodes are stopped.",
            "Cancel run",
            "Keep running",
        )
    if action == "retry-node":
        return (
            f"Retry run {run_id} from {node_id}? "
            f"{node_id} and the nodes after it run their handlers again.",
            "Retry from node",
            "Keep as is",
        )
    return (
        f"Retry run {run_id}? Its failed and compensated nodes run their handlers again.",
        "Retry run",
        "Keep as is",
    )


def interesting_node(
    error_node: str | None, statuses: Mapping[str, str], order: Sequence[str] = ()
) -> str | None:
    """The node to select when a run opens: the failed one (``error_node``), else the
    first busy one, else the workflow's first node (``order``: the drawing's nodes, as
    listed)."""
    if error_node:
        return error_node
    ids = [n for n in order if n in statuses] or list(statuses)
    for wanted in FIRST_LOOK:
        found = next((n for n in ids if statuses[n] == wanted), None)
        if found is not None:
            return found
    return next(iter(ids), None)


def best_zoom(graph: CanvasGraph, positions: Mapping[str, tuple[int, int]], height: int) -> int:
    """The most detailed zoom at which ``graph`` fits ``height`` rows.

    Full boxes may overflow by half a screen: a little scrolling (the canvas follows
    the selection) reads better than names cut to five letters.
    """
    levels = sorted(ZOOM_LEVELS)
    for zoom in levels:
        room = height * (1.5 if zoom == levels[0] else 1.0)
        if compute_layout(graph, zoom=zoom, positions=dict(positions)).height <= room:
            return zoom
    return levels[-1]
