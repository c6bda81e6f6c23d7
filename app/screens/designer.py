"""The Designer (the seed's mockup): canvas, properties, node palette, status line.

The screen owns an :class:`~app.editor.Editor` and redraws from it after every edit:
the canvas gets the graph and the validator's marks, the status line the counts, the
problems panel the messages.  Widgets post messages (canvas selections and moves,
inspector changes, palette choices); the screen turns them into editor operations.
Saving, running and loading handler names are workers over the session's client.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding, BindingType

from app.screens.designer_api import DesignerApi
from app.screens.designer_base import SHORTCUT_ACTIONS, TITLE_NAME_WIDTH
from app.screens.designer_edges import DesignerEdges
from app.screens.designer_sim import DesignerSim
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.dialogs.path import PathDialog
from app.screens.dialogs.save_template import offer_save_template
from app.screens.dialogs.text_input import InputDialog
from app.session import describe_error
from app.widgets.canvas_view import CanvasView
from app.widgets.inspector import Inspector
from app.widgets.node_palette import NodePalette
from app.widgets.validation_panel import ValidationPanel
from orchestrator.errors import DagqError
from orchestrator.spec.loader import SpecIssue

__all__ = ["SHORTCUT_ACTIONS", "TITLE_NAME_WIDTH", "DesignerScreen"]


class DesignerScreen(DesignerEdges, DesignerSim, DesignerApi):
    """Draw, validate, save and run one workflow."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "app.help", "Help", key_display="F1"),
        Binding("f2", "validate", "Validate", key_display="F2"),
        Binding("f5", "run", "Run", key_display="F5"),
        Binding("f10", "save", "Save", key_display="F10"),
        Binding("ctrl+z", "undo", "Undo", show=False),
        Binding("ctrl+y", "redo", "Redo", show=False),
        Binding("e", "next_error", "Next error", show=False),
        Binding("i", "inspect", "Properties", show=False),
        Binding("g", "goto", "Go to node", show=False),
        Binding("s", "simulate", "Simulate", show=False),
        Binding("u", "delete_edge", "Delete edge", show=False),
        Binding("x", "export", "Export", show=False),
        Binding("T", "save_template", "Save as template", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    # -- widget messages -------------------------------------------------------------------
    @on(CanvasView.NodeSelected)
    def _selected(self, event: CanvasView.NodeSelected) -> None:
        self.show_properties()

    @on(CanvasView.NodeMoved)
    def _moved(self, event: CanvasView.NodeMoved) -> None:
        if self._refuse_edit():
            self.refresh_design(select=event.node_id)  # back where it was
        else:
            self._edit(self.editor.move_node, event.node_id, event.x, event.y)

    @on(CanvasView.Arranged)
    def _arranged(self, event: CanvasView.Arranged) -> None:
        if not self.editor.read_only:
            self._edit(self.editor.set_positions, event.positions)

    @on(CanvasView.NodeActivated)
    def _activated(self, event: CanvasView.NodeActivated) -> None:
        if self.canvas.pending_source:
            self.action_connect()
        else:
            self.action_inspect()

    @on(NodePalette.TypeChosen)
    def _type_chosen(self, event: NodePalette.TypeChosen) -> None:
        self.action_add_kind(event.node_type)

    def action_add_kind(self, kind: str) -> None:
        """Add a node of ``kind`` (its palette key on the canvas) and edit its id."""
        if self._refuse_edit():
            return
        node_id = self._edit(self.editor.add_node, kind)
        if node_id is not None:
            self.refresh_design(select=node_id)
            self.show_properties(focus=True)

    @on(Inspector.PropertyChanged)
    def _property(self, event: Inspector.PropertyChanged) -> None:
        self.apply_property(event)

    @on(Inspector.Closed)
    def _inspector_closed(self) -> None:
        self.canvas.focus()

    @on(ValidationPanel.IssueChosen)
    def _issue_chosen(self, event: ValidationPanel.IssueChosen) -> None:
        self._show_issue(event.node_id, event.message)

    def _show_issue(self, node_id: str | None, message: str) -> None:
        if node_id and node_id in self.canvas.positions():
            self.canvas.select(node_id)
            self.canvas.focus()
        self.notify(message, title="Problem", severity="error")

    # -- actions ---------------------------------------------------------------------------
    def action_add_node(self) -> None:
        """Choose the new node's type in the palette (letter or Enter)."""
        if not self._refuse_edit():
            self.query_one(NodePalette).focus()

    def action_delete_node(self) -> None:
        """Delete the selected node and its edges."""
        selected = self.canvas.selected
        if self._refuse_edit():
            return
        if selected is None:
            self.notify("Select a node to delete first.")
            return
        self._edit(self.editor.remove_node, selected)

    def action_connect(self) -> None:
        """First press: the selected node is the source; second press: connect to the selected."""
        if self._refuse_edit():
            return
        selected, source = self.canvas.selected, self.canvas.pending_source
        if selected is None:
            self.notify("Select the source node first.")
        elif source is None:
            self.canvas.pending_source = selected
            self.refresh_design()
        elif source == selected:
            self.canvas.pending_source = None
            self.refresh_design()
        else:
            self.canvas.pending_source = None
            self._edit(self.editor.connect, source, selected)

    def action_undo(self) -> None:
        """Undo the last edit."""
        if not self.editor.undo():
            self.notify("Nothing to undo.")
        self.refresh_design()

    def action_redo(self) -> None:
        """Redo the last undone edit."""
        if not self.editor.redo():
            self.notify("Nothing to redo.")
        self.refresh_design()

    def action_validate(self) -> None:
        """Say whether the design is valid, and the first problem when it is not."""
        self.refresh_design(select=self.canvas.selected)
        self.load_handlers()  # workers come and go: ask again
        errors = self.result.errors
        if not errors:
            count = len(self.query_one(ValidationPanel).warnings)
            warn = f" ({count} warnings)" if count else ""
            self.notify(f"Valid ✓{warn}", title="Validate")
        else:
            first = errors[0]
            more = f" (+{len(errors) - 1} more: e for the next)" if len(errors) > 1 else ""
            self.notify(f"{first.message}{more}", title=f"{len(errors)} errors ✗", severity="error")

    def action_next_error(self) -> None:
        """Select the node of the next problem and show its message."""
        errors: tuple[SpecIssue, ...] = self.result.errors
        if not errors:
            self.notify("No problems ✓")
            return
        self._error_cursor = (self._error_cursor + 1) % len(errors)
        issue = errors[self._error_cursor]
        self._show_issue(issue.node_id, issue.message)

    def action_inspect(self) -> None:
        """Focus the properties of the selected node (or of the workflow)."""
        self.show_properties(focus=True)

    def action_goto(self) -> None:
        """Select a node by its id (or a prefix only one id starts with)."""
        ids = self.editor.node_ids()

        def matches(text: str) -> list[str]:
            return [text] if text in ids else [i for i in ids if i.startswith(text)]

        def check(text: str) -> str | None:
            found = matches(text)
            if len(found) == 1:
                return None
            return f"no node '{text}'" if not found else f"'{text}' could be {', '.join(found[:5])}"

        def chosen(text: str | None) -> None:
            if text:
                self.canvas.select(matches(text)[0])
                self.canvas.focus()

        dialog = InputDialog("Go to node", placeholder="node id or its start", check=check)
        self.app.push_screen(dialog, chosen)

    def action_back(self) -> None:
        """Cancel a connection; else close the designer (asking first when unsaved)."""
        if self.canvas.pending_source is not None:
            self.canvas.pending_source = None
            self.refresh_design()
            return
        if not self.editor.dirty or self.editor.read_only:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        question = "Discard the unsaved changes?"
        dialog = ConfirmDialog(question, confirm="Discard", cancel="Keep editing", danger=True)
        self.app.push_screen(dialog, answered)

    def action_export(self) -> None:
        """Write the design to a YAML or JSON file."""
        default = f"{self.editor.to_data()['id']}.yaml"

        def chosen(path: str | None) -> None:
            if path:
                self.export_to(Path(path).expanduser())

        self.app.push_screen(PathDialog("Export to", value=default, for_import=False), chosen)

    @work(exclusive=True, group="export")
    async def export_to(self, path: Path) -> None:
        """Write the export file (positions included)."""
        try:
            text = self.editor.export(
                "json" if path.suffix.lower() == ".json" else "yaml", self.canvas.positions()
            )
            await _write_text(path, text)
        except (DagqError, OSError) as exc:
            self.notify(describe_error(exc), title="Export failed", severity="error")
            return
        self.notify(f"Exported to {path}", title="Export")

    def action_save_template(self) -> None:
        """Make the design a template, choosing which values become parameters (T)."""
        offer_save_template(self, self.session, self.editor.to_data(self.canvas.positions()))

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Every designer action, for the command palette."""
        for title, help_text, action in (
            ("Add node", "Choose a node type in the palette", self.action_add_node),
            ("Delete node", "Delete the selected node and its edges", self.action_delete_node),
            ("Connect", "Connect the selected node to another", self.action_connect),
            ("Validate", "Check the design (F2)", self.action_validate),
            ("Next problem", "Select the next node with a problem (e)", self.action_next_error),
            ("Save", "Create or store a new version (F10)", self.action_save),
            ("Run", "Start a run with parameters (F5)", self.action_run),
            ("Simulate", "Replay the design in memory (s)", self.action_simulate),
            ("Delete edge…", "Pick one of the selected node's edges (u)", self.action_delete_edge),
            ("Export", "Write YAML or JSON (x)", self.action_export),
            ("Save as template", "Choose values to make parameters (T)", self.action_save_template),
            ("Undo", "Undo the last edit (ctrl+z)", self.action_undo),
            ("Redo", "Redo (ctrl+y)", self.action_redo),
            ("Go to node", "Select a node by id (g)", self.action_goto),
            ("Re-layout", "Lay the graph out again (L)", self.canvas.relayout),
            ("Properties", "Edit the selected node (i)", self.action_inspect),
            ("Close designer", "Back to the workflow list (escape)", self.action_back),
        ):
            yield SystemCommand(title, help_text, action)


async def _write_text(path: Path, text: str) -> None:
    import asyncio

    await asyncio.to_thread(path.write_text, text, encoding="utf-8")
