"""The Designer (the seed's mockup): canvas, properties, node palette, status line.

The screen owns an :class:`~app.editor.Editor` and redraws from it after every edit:
the canvas gets the graph and the validator's marks, the status line the counts, the
problems panel the messages.  Widgets post messages (canvas selections and moves,
inspector changes, palette choices); the screen turns them into editor operations.
Saving, running and loading handler names are workers over the session's client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from app.canvas.render import DiffKind
from app.editor import Editor
from app.messages import OpenRun
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.dialogs.path import PathDialog
from app.screens.dialogs.run_params import RunParametersDialog
from app.screens.dialogs.text_input import InputDialog
from app.screens.heat import HeatScreen
from app.session import Session, describe_error
from app.text import clip, safe
from app.widgets.canvas_view import CanvasView
from app.widgets.design_canvas import DesignCanvas
from app.widgets.inspector import Inspector
from app.widgets.node_palette import NodePalette
from app.widgets.status_line import StatusLine
from app.widgets.validation_panel import ValidationPanel
from orchestrator.errors import DagqError
from orchestrator.spec.handlers import handlers_in_data
from orchestrator.spec.loader import SpecIssue
from orchestrator.spec.validator import ValidationResult

SHORTCUT_ACTIONS = {
    "add_node": ("add_node", "Add node"),
    "delete_node": ("delete_node", "Delete"),
    "connect_nodes": ("connect", "Connect"),
    "validate": ("validate", "Validate"),
    "execute": ("run", "Run"),
}
"""Configurable shortcut name -> (screen action, footer label)."""
TITLE_NAME_WIDTH = 60
"""Cells of the workflow's name in the title (the inspector shows it whole)."""


class DesignerScreen(HeatScreen):
    """Draw, validate, save and run one workflow."""

    CSS_PATH = "designer.tcss"
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
        Binding("x", "export", "Export", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(
        self,
        session: Session,
        editor: Editor,
        *,
        diff: Mapping[str, DiffKind] | None = None,
        caption: str | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.editor = editor
        self.diff = dict(diff or {})
        self.caption = caption
        self.result = ValidationResult()
        self._error_cursor = -1
        for name, key in session.settings.workflow.tui.shortcuts.items():
            if name in SHORTCUT_ACTIONS and key:
                action, label = SHORTCUT_ACTIONS[name]
                self._bindings.bind(key, action, label, show=False)

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """Canvas and status line on the left; properties, palette and problems on the right."""
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield DesignCanvas(id="canvas")
                yield StatusLine(id="status")
            with Vertical(id="side"):
                yield Inspector(id="inspector")
                yield NodePalette(id="palette")
                yield ValidationPanel(id="problems")
        yield Footer(compact=True)

    @property
    def canvas(self) -> CanvasView:
        """The canvas widget."""
        return self.query_one(CanvasView)

    def heat_workflow(self) -> str | None:
        """The saved workflow (the heat overlay's stats are its runs')."""
        return self.editor.workflow_id

    def on_mount(self) -> None:
        """Titles, the first drawing, and the handler names of live workers."""
        self.query_one("#main").border_title = safe(
            self.caption or f"Workflow Designer — {clip(self.editor.name, TITLE_NAME_WIDTH)}"
        )
        self.query_one(Inspector).border_title = "Properties"
        self.query_one(NodePalette).border_title = "Node Palette"
        self.query_one(ValidationPanel).border_title = "Problems"
        self.canvas.border_title = "Canvas"
        self.canvas.set_diff(self.diff)
        self.refresh_design()
        self.canvas.focus()
        self.load_handlers()

    # -- redraw ----------------------------------------------------------------------------
    def refresh_design(self, *, select: str | None = None) -> None:
        """Redraw everything from the editor and validate (local validator: instant)."""
        graph = self.editor.canvas_graph()
        self.canvas.set_graph(graph)
        self.result = self.editor.validate(self.session.settings)
        errors = self.result.errors
        self.canvas.set_marks(
            {e.node_id for e in errors if e.node_id}, {e.edge_id for e in errors if e.edge_id}
        )
        if select is not None and select in graph.by_id:
            self.canvas.select(select)
        self.query_one(StatusLine).show(
            len(errors), len(graph.nodes), len(graph.edges), self._note()
        )
        self.query_one(ValidationPanel).show(
            errors, self.result.warnings, handlers=handlers_in_data(self.editor.nodes)
        )
        self.show_properties()

    def _note(self) -> str:
        parts = []
        if self.editor.read_only:
            parts.append("read-only")
        elif self.editor.dirty:
            parts.append("● modified")
        if self.canvas.pending_source:
            source = clip(self.canvas.pending_source, 40)
            parts.append(f"connect {source} → select the target, press c")
        return "  ".join(parts)

    @work(group="inspector")
    async def show_properties(self, *, focus: bool = False) -> None:
        """Show the selected node's fields, or the workflow's (``focus``: then edit them)."""
        selected = self.canvas.selected
        node = None
        outgoing: list[dict[str, Any]] = []
        if selected is not None and selected in self.editor.node_ids():
            node, outgoing = self.editor.node(selected), self.editor.outgoing(selected)
        await self.query_one(Inspector).show_node(
            node, outgoing, workflow=self.editor.to_data(), read_only=self.editor.read_only
        )
        if focus:
            self.query_one(Inspector).focus_first()

    def _edit(self, change: Any, *args: Any, select: str | None = None, **kwargs: Any) -> Any:
        """Apply one editor operation; a refused edit is a notification, never a crash."""
        try:
            result = change(*args, **kwargs)
        except DagqError as exc:
            self.notify(exc.message, severity="warning")
            return None
        self.refresh_design(select=select)
        return result

    # -- widget messages -------------------------------------------------------------------
    @on(CanvasView.NodeSelected)
    def _selected(self, event: CanvasView.NodeSelected) -> None:
        self.show_properties()

    @on(CanvasView.NodeMoved)
    def _moved(self, event: CanvasView.NodeMoved) -> None:
        if not self.editor.read_only:
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
        if self._refuse_edit():
            return
        node_id = self._edit(self.editor.add_node, event.node_type)
        if node_id is not None:
            self.refresh_design(select=node_id)
            self.show_properties(focus=True)

    @on(Inspector.PropertyChanged)
    def _property(self, event: Inspector.PropertyChanged) -> None:
        if event.edge is not None:
            self._edit(self.editor.set_edge_property, event.edge, "condition", event.value)
        elif event.node_id is None:
            self._edit(self.editor.set_workflow_property, event.key, event.value)
        else:
            new_id = str(event.value) if event.key == "id" and event.value else event.node_id
            self._edit(
                self.editor.set_property, event.node_id, event.key, event.value, select=new_id
            )

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
    def _refuse_edit(self) -> bool:
        if self.editor.read_only:
            self.notify("This version is read-only; open the current version to edit it.")
            return True
        return False

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

    def action_simulate(self) -> None:
        """Replay the design in memory (every task succeeds) and paint the statuses."""
        from orchestrator.engine.simulate import simulate
        from orchestrator.spec.graph import compile_graph

        if not self.result.valid:
            self.notify("Fix the problems first (e shows the next).", severity="warning")
            return
        try:
            spec = self.editor.to_spec()
            run = simulate(compile_graph(spec))
        except DagqError as exc:
            self.notify(describe_error(exc), severity="error")
            return
        statuses = {nid: str(node.status) for nid, node in run.state.nodes.items()}
        self.canvas.set_statuses(statuses)
        why = f" at {run.state.error_node}: {run.state.error}" if run.state.error else ""
        note = " (every task returns its input)"
        self.notify(f"Simulated run: {run.state.status}{why}{note}", title="Simulate")

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

    # -- API -------------------------------------------------------------------------------
    def action_save(self) -> None:
        """Create the workflow, or store the design as its next version (F10)."""
        perm = "workflow:update" if self.editor.workflow_id else "workflow:create"
        if self._refuse_edit():
            return
        if not self.session.can(perm):
            self.notify(self.session.reason(perm).capitalize(), severity="warning")
            return
        self.save()

    @work(exclusive=True, group="save")
    async def save(self) -> None:
        """Send the design to the API (422: the server's errors are shown)."""
        client, wid = self.session.client, self.editor.workflow_id
        if wid is not None and not self.editor.dirty:
            self.notify("No changes: nothing saved.", title="Save")
            return
        sent = self.editor.to_data()
        data = self.editor.to_data(self.canvas.positions())
        data.pop("version", None)
        try:
            if wid is None:
                saved = await self.session.call(client.create_workflow(data))
            else:
                saved = await self.session.call(
                    client.update_workflow(wid, data, expected_version=self.editor.version)
                )
        except DagqError as exc:
            self.notify(describe_error(exc), title="Not saved", severity="error")
            return
        self.editor.mark_saved(
            workflow_id=str(saved["id"]), version=int(saved["version"]), saved=sent
        )
        self.refresh_design(select=self.canvas.selected)
        self.notify(f"Saved {saved['id']} v{saved['version']}", title="Saved")

    def action_run(self) -> None:
        """Ask for the run parameters and start a run (F5)."""
        if not self.session.can("workflow:execute"):
            self.notify(self.session.reason("workflow:execute").capitalize(), severity="warning")
            return
        wid = self.editor.workflow_id
        if wid is None or (self.editor.dirty and not self.editor.read_only):
            self.notify("Save the workflow (F10) before running it.", severity="warning")
            return
        params = self.editor.to_data().get("parameters") or {}

        def chosen(values: dict[str, Any] | None) -> None:
            if values is not None:
                self.start_run(wid, values)

        self.app.push_screen(RunParametersDialog(self.editor.name, params), chosen)

    @work(exclusive=True, group="run")
    async def start_run(self, workflow_id: str, params: dict[str, Any]) -> None:
        """Start the run and hand it to the monitor."""
        version = self.editor.version if self.editor.read_only else None
        try:
            run = await self.session.call(
                self.session.client.start_run(workflow_id, params, version=version)
            )
        except DagqError as exc:
            self.notify(describe_error(exc), title="Run not started", severity="error")
            return
        run_id = str(run["runId"])
        self.notify(f"Run {run_id} started", title="Run")
        self.post_message(OpenRun(run_id, workflow_id))

    @work(exclusive=True, group="handlers")
    async def load_handlers(self) -> None:
        """Offer the handler names live workers advertise (quietly: it is only a hint)."""
        try:
            rows = await self.session.call(self.session.client.handlers())
        except DagqError:
            return
        names = [str(r["name"]) for r in rows if r.get("name")]
        self.query_one(Inspector).set_handlers(names)
        self.query_one(ValidationPanel).set_offered(names)

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
            ("Export", "Write YAML or JSON (x)", self.action_export),
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
