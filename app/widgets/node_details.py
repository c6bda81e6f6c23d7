"""The selected node of a run: status, attempts, timings, input, output and last error.

``show`` takes the API's ``NodeStatusView`` (plus what the spec says about the node:
its type and handler) and renders it; a queued node that no live worker offers shows
the API's ``waitingFor`` note prominently, since that is why the run is stuck.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from app.text import safe
from app.widgets.ops_format import NO_VALUE, clock, duration_text, json_text, status_text

LABEL_STYLE = "bold"
WARN_STYLE = "bold #ffaf5f"
ERROR_STYLE = "#ff5f5f"


def describe_node(
    node: Mapping[str, Any] | None,
    *,
    node_id: str | None = None,
    kind: str | None = None,
    handler: str | None = None,
    compensation: str | None = None,
) -> RenderableType:
    """The details of one node as a Rich renderable (pure: used by tests too)."""
    if node is None:
        if node_id is None:
            return Text("Select a node on the canvas to see its attempts, input and output.")
        return safe(f"{node_id}: this run has no state for it yet.")
    # The panel wraps: every value is whole here (lists and the canvas cut them).
    nid = str(node.get("nodeId") or node_id or "?")
    head = safe(nid, style="bold")
    name = node.get("nodeName")
    if name and name != nid:
        head.append("  ")
        head.append_text(safe(name, style="italic"))
    lines: list[RenderableType] = [head]

    def row(label: str, value: Text | str) -> None:
        line = Text(f"{label:<9}", style=LABEL_STYLE)
        line.append_text(value if isinstance(value, Text) else safe(value))
        lines.append(line)

    kind_text = kind or NO_VALUE
    if handler:
        kind_text += f" · {handler}"
    row("type", kind_text)
    row("status", status_text(str(node.get("status"))))
    row("attempts", str(node.get("attempts", 0)))
    row("started", clock(node.get("startTime"), millis=True))
    row("ended", clock(node.get("endTime"), millis=True))
    row("took", duration_text(node.get("duration")))
    if node.get("dueTime"):
        row("due", clock(node.get("dueTime"), millis=True))
    if node.get("worker"):
        row("worker", str(node["worker"]))
    if compensation:
        row("undo", compensation)
    if node.get("takenEdges") is not None:
        row("took edge", ", ".join(str(e) for e in node["takenEdges"]) or NO_VALUE)
    if node.get("waitingFor"):
        lines.append(safe(f"⚠ waiting: {node['waitingFor']}", multiline=True, style=WARN_STYLE))
    if node.get("lastError"):
        lines.append(Text("last error", style=LABEL_STYLE))
        lines.append(safe(node["lastError"], multiline=True, style=ERROR_STYLE))
    for key in ("input", "output"):
        if node.get(key) is not None:
            lines.append(Text(key, style=LABEL_STYLE))
            # JSON escapes controls in strings, but not bidi or other format characters.
            lines.append(safe(json_text(node[key], max_chars=1500), multiline=True))
    return Group(*lines)


def _plain(body: RenderableType) -> str:
    if isinstance(body, Text):
        return body.plain
    if isinstance(body, Group):
        return "\n".join(_plain(r) for r in body.renderables)
    return str(body)


class NodeDetails(VerticalScroll):
    """A scrollable panel with one node's details."""

    DEFAULT_CSS = """
    NodeDetails { height: 1fr; }
    NodeDetails > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty panel."""
        super().__init__(id=id, classes=classes)
        self.node_id: str | None = None
        self._text = ""

    def compose(self) -> ComposeResult:
        """The body."""
        yield Static(describe_node(None), id="node-body")

    @property
    def text(self) -> str:
        """The panel's plain text (what tests read)."""
        return self._text

    def show(
        self,
        node: Mapping[str, Any] | None,
        *,
        node_id: str | None = None,
        kind: str | None = None,
        handler: str | None = None,
        compensation: str | None = None,
    ) -> None:
        """Show ``node`` (the API's node view), or a hint when there is none."""
        self.node_id = str(node.get("nodeId")) if node else node_id
        body = describe_node(
            node, node_id=node_id, kind=kind, handler=handler, compensation=compensation
        )
        self._text = _plain(body)
        self.query_one("#node-body", Static).update(body)
