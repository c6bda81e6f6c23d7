"""The diamond of issue 12: receive -> check -> (true) big / (false) small -> join -> finish."""

from __future__ import annotations

from typing import Any

from app.canvas.layout import compute_layout
from orchestrator.spec.model import WorkflowSpec

IDS = ("receive", "check", "big", "small", "join", "finish")


def diamond_data(
    *,
    handler: str = "h",
    first_handler: str | None = None,
    condition: str = "output.big",
    positions: dict[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The diamond as spec data; ``positions`` (zoom-1 cells) saved on its nodes."""
    kinds: dict[str, dict[str, Any]] = {
        "check": {"type": "decision", "condition": condition},
        "join": {"type": "parallel", "join": "any"},
    }
    nodes: list[dict[str, Any]] = [
        {"id": n, **kinds.get(n, {"type": "task", "handler": handler})} for n in IDS
    ]
    if first_handler is not None:
        nodes[0]["handler"] = first_handler
    for node in nodes:
        if positions and node["id"] in positions:
            x, y = positions[node["id"]]
            node["position"] = {"x": x, "y": y}
    edges = [
        {"source": "receive", "target": "check"},
        {"source": "check", "target": "big", "condition": True},
        {"source": "check", "target": "small", "condition": False},
        {"source": "big", "target": "join"},
        {"source": "small", "target": "join"},
        {"source": "join", "target": "finish"},
    ]
    return {"id": "diamond", "name": "Diamond", "nodes": nodes, "edges": edges}


def designer_positions() -> dict[str, tuple[int, int]]:
    """Where the designer puts the diamond's nodes in a new drawing (its zoom-1 layout)."""
    layout = compute_layout(WorkflowSpec.model_validate(diamond_data()))
    return {n: (b.x, b.y) for n, b in layout.boxes.items()}
