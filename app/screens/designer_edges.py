"""Deleting edges in the Designer: ``u`` (or "Delete edge…" in ctrl+p) picks one of the
selected node's edges; the inspector's "✕ delete edge" buttons remove one with the mouse.
Editing an edge's condition, label and default happens in the inspector's fields; a click
on an edge on the canvas opens them."""

from __future__ import annotations

from typing import Any

from textual import on

from app.editor import edge_label
from app.screens.designer_base import DesignerBase
from app.screens.dialogs.choice import ChoiceDialog
from app.widgets.design_canvas import DesignCanvas
from app.widgets.inspector import Inspector
from orchestrator.spec.diff import edge_key


def edge_line(edge: dict[str, Any]) -> str:
    """``source → target`` and what the edge says (its label or condition)."""
    said = edge_label(edge)
    return f"{edge.get('source')} → {edge.get('target')}" + (f"  ({said})" if said else "")


class DesignerEdges(DesignerBase):
    """Removing an edge by key, by palette command and by mouse."""

    def node_edges(self, node_id: str) -> list[dict[str, Any]]:
        """The edges into and out of ``node_id``, in listed order."""
        return [e for e in self.editor.edges if node_id in (e.get("source"), e.get("target"))]

    def action_delete_edge(self) -> None:
        """Ask which of the selected node's edges to delete, then delete it."""
        if self._refuse_edit():
            return
        selected = self.canvas.selected
        if selected is None:
            self.notify("Select a node first: u lists its edges to delete one.")
            return
        edges = self.node_edges(selected)
        if not edges:
            self.notify(f"{selected} has no edges.")
            return

        def chosen(key: str | None) -> None:
            if key:
                self.delete_edge(key)

        dialog = ChoiceDialog(
            f"Delete an edge of {selected}",
            [(edge_key(e), edge_line(e)) for e in edges],
            hint="Enter deletes the highlighted edge (ctrl+z brings it back); escape keeps all.",
        )
        self.app.push_screen(dialog, chosen)

    def delete_edge(self, key: str) -> None:
        """Delete the edge with this key (one undo step) and say which it was."""
        line = edge_line(self.editor.edge(key))
        count = len(self.editor.edges)
        self._edit(self.editor.disconnect, key, select=self.canvas.selected)
        if len(self.editor.edges) < count:
            self.notify(f"Deleted {line} (ctrl+z undoes)", title="Edge deleted")

    @on(DesignCanvas.EdgeClicked)
    def _edge_clicked(self, event: DesignCanvas.EdgeClicked) -> None:
        """A click on an edge: its source selected, the edge's fields focused to edit
        (or delete with their button)."""
        self.canvas.select(event.source, scroll=False)
        self.show_properties(edge=event.key)

    @on(Inspector.EdgeDeleted)
    def _edge_button(self, event: Inspector.EdgeDeleted) -> None:
        if not self._refuse_edit():
            self.delete_edge(event.edge)
