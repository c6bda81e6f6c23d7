"""Run events for tests that feed them to a reader: only what a test says, the rest filled."""

from __future__ import annotations

from typing import Any

from orchestrator.wire.runs import RunEvent, WorkflowRun


def event(
    kind: str,
    node: str | None = None,
    data: dict[str, Any] | None = None,
    *,
    timestamp: str = "2026-01-15T09:30:00Z",
    run_id: str = "r",
    event_id: str = "1-0",
) -> RunEvent:
    """A ``kind`` event (of ``node``) carrying ``data``."""
    return RunEvent(
        id=event_id, timestamp=timestamp, type=kind, runId=run_id, nodeId=node, data=data or {}
    )


def events(raw: list[dict[str, Any]]) -> list[RunEvent]:
    """Canned events as the client gives them."""
    return [RunEvent.model_validate(e) for e in raw]


def run_view(status: str, nodes: dict[str, str], **fields: Any) -> WorkflowRun:
    """A run in ``status`` whose nodes are in the given statuses (the rest filled)."""
    views = {n: {"nodeId": n, "status": s, "attempts": 0} for n, s in nodes.items()}
    return WorkflowRun.model_validate(
        {"id": "r", "runId": "r", "workflowId": "w", "workflowVersion": 1, "status": status,
         "startTime": "2026-01-15T09:30:00Z", "nodes": views, "context": {}, "parameters": {},
         "priority": 5, **fields}
    )  # fmt: skip
