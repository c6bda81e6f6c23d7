"""A map node's items as the API shows them: one page, filtered by status."""

from __future__ import annotations

from typing import Any

from orchestrator.engine.state import RunState, item_key
from orchestrator.errors import BadRequest, NotFound
from orchestrator.service.views import iso, progress_view
from orchestrator.vocab import NodeStatus


def item_page(
    state: RunState,
    node_id: str,
    *,
    status: NodeStatus | None = None,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    """Items ``offset``..``offset+limit`` of those with ``status`` (all when None), in index
    order, with how many match; ``NotFound`` for an unknown node, ``BadRequest`` for a
    node that is not a map."""
    node = state.nodes.get(node_id)
    if node is None:
        raise NotFound(
            f"run {state.run_id} has no node '{node_id}'",
            details={"runId": state.run_id, "nodeId": node_id},
        )
    progress = node.progress
    if progress is None:
        if not any(key.startswith(node_id + "[") for key in state.items):
            raise BadRequest(f"node '{node_id}' of run {state.run_id} has no items (not a map)")
        progress = {"total": 0}
    items: list[dict[str, Any]] = []
    matched = 0
    for index in range(progress.get("total", 0)):
        item = state.items.get(item_key(node_id, index))
        if item is None or (status is not None and item.status != status):
            continue
        matched += 1
        if matched <= offset or len(items) >= limit:
            continue
        view: dict[str, Any] = {"index": index, "status": item.status, "attempts": item.attempts}
        for key, value in (
            ("startTime", iso(item.start_ms)),
            ("endTime", iso(item.end_ms)),
            ("error", item.last_error),
            ("worker", item.worker),
        ):
            if value is not None:
                view[key] = value
        if item.input is not None:
            view["item"] = item.input.get("item")
        if item.output is not None:
            view["output"] = dict(item.output)
        items.append(view)
    return {
        "runId": state.run_id,
        "nodeId": node_id,
        "progress": progress_view(node.progress or {}),
        "total": matched,
        "items": items,
    }
