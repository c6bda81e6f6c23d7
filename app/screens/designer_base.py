"""The Designer's core: its layout, its editor and the redraw after every edit.

:class:`DesignerBase` owns an :class:`~app.editor.Editor` and redraws from it after every
edit: the canvas gets the graph and the validator's marks, the status line the counts, the
problems panel the messages.  The screen's parts build on it: talking to the API
(:mod:`app.screens.designer_api`), simulating (:mod:`app.screens.designer_sim`), editing
edges (:mod:`app.screens.designer_edges`), and the keys and widget messages
(:mod:`app.screens.designer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingsMap
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from app.app import DagqApp
from app.canvas.render import DiffKind
from app.editor import Editor
from app.fields import Field
from app.kinds import KINDS
from app.screens.heat import HeatScreen
from app.session import Session
from app.simulation import CHOICE, FAILS, OUTPUT, inspector_values
from app.text import clip, safe
from app.widgets.canvas_view import CanvasView
from app.widgets.design_canvas import DesignCanvas
from app.widgets.inspector import Inspector
from app.widgets.node_palette import NodePalette, palette_keys
from app.widgets.status_line import StatusLine
from app.widgets.validation_panel import ValidationPanel
from orchestrator.errors import DagqError
from orchestrator.spec.handlers import handlers_in_data
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


class DesignerBase(HeatScreen):
    """Draw and validate one workflow: the layout and the redraw."""

    CSS_PATH = "designer.tcss"

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
        self.simulation_note = ""
        """How the last simulation ended (status line), until the next edit."""
        perm = "workflow:update" if editor.workflow_id else "workflow:create"
        # Known permissions only: while still connecting nobody is refused yet.
        self.role_refusal = session.reason(perm) if session.permissions else ""
        """Why this role may not change the design (empty: it may)."""
        if self.role_refusal:
            editor.read_only = True  # the canvas, the inspector and the footer say so
        self._error_cursor = -1
        for name, key in session.settings.workflow.tui.shortcuts.items():
            if name in SHORTCUT_ACTIONS and key:
                action, label = SHORTCUT_ACTIONS[name]
                self._bindings.bind(key, action, label, show=False)
        self.kind_keys = palette_keys(self._taken_keys())
        """The key that adds each node kind on the canvas (the palette shows it)."""
        for kind, key in self.kind_keys.items():
            self._bindings.bind(key, f"add_kind('{kind}')", f"Add {kind}", show=False)

    def _taken_keys(self) -> set[str]:
        """Keys the screen, its canvas and the app already use."""
        taken = set(self._bindings.key_to_bindings)
        for bindings in (DesignCanvas.BINDINGS, CanvasView.BINDINGS, DagqApp.BINDINGS):
            taken |= set(BindingsMap(bindings).key_to_bindings)
        return taken

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """Canvas and status line on the left; properties, palette and problems on the right."""
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield Static(self.empty_hint(), id="empty-hint")
                yield DesignCanvas(id="canvas")
                yield StatusLine(id="status")
            with Vertical(id="side"):
                yield Inspector(id="inspector")
                yield NodePalette(id="palette", keys=self.kind_keys)
                yield ValidationPanel(id="problems")
        yield Footer(compact=True)

    def empty_hint(self) -> str:
        """What an empty canvas says: how to add the first node."""
        keys = self.kind_keys
        others = ", ".join(f"{keys[k]} {KINDS[k].label.lower()}" for k in keys if k != "task")
        first = f"Press {keys['task']} to add a task" if "task" in keys else "Press n to add a node"
        return f"Empty workflow. {first} ({others}), or n to pick a type in the palette."

    @property
    def canvas(self) -> CanvasView:
        """The canvas widget."""
        return self.query_one(CanvasView)

    def heat_workflow(self) -> str | None:
        """The saved workflow (the heat overlay's stats are its runs')."""
        return self.editor.workflow_id

    def on_mount(self) -> None:
        """Titles, the first drawing, and the handler names of live workers."""
        title = self.caption or f"Workflow Designer — {clip(self.editor.name, TITLE_NAME_WIDTH)}"
        main = self.query_one("#main")
        main.border_title = safe(title)
        if self.role_refusal:
            main.border_subtitle = "read-only: your role cannot change workflows"
            main.add_class("-read-only")
        self.query_one(Inspector).placeholders["timeout"] = (
            f"default {self.session.settings.workflow.execution.default_timeout:g}s (e.g. 30s)"
        )
        self.query_one(Inspector).border_title = "Properties"
        self.query_one(NodePalette).border_title = "Node Palette"
        self.query_one(ValidationPanel).border_title = "Problems"
        self.canvas.border_title = "Canvas"
        self.canvas.set_diff(self.diff)
        self.refresh_design()
        self.canvas.focus()
        self.call_after_refresh(self._fit_on_open)
        self.after_mount()

    def _fit_on_open(self) -> None:
        """Show the whole workflow when a compact zoom holds what the full one cannot."""
        canvas = self.query_one(DesignCanvas)
        zoom = canvas.fit_zoom()
        if zoom is not None and zoom != canvas.zoom:
            canvas.zoom = zoom

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only design does not offer saving in the footer."""
        return not (action == "save" and self.editor.read_only)

    def after_mount(self) -> None:
        """What the screen's parts start once it is drawn (the API part: handler names)."""

    # -- redraw ----------------------------------------------------------------------------
    def refresh_design(self, *, select: str | None = None) -> None:
        """Redraw everything from the editor and validate (local validator: instant)."""
        graph = self.editor.canvas_graph()
        self.canvas.set_graph(graph)
        self.query_one("#empty-hint").display = not graph.nodes and not self.editor.read_only
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
        if self.role_refusal:
            parts.append(f"read-only: {self.role_refusal}")
        elif self.editor.read_only:
            parts.append("read-only")
        elif self.editor.dirty:
            parts.append("● modified")
        if self.simulation_note:
            parts.append(self.simulation_note)
        if self.canvas.pending_source:
            source = clip(self.canvas.pending_source, 40)
            parts.append(f"connect {source} → select the target, press c")
        return "  ".join(parts)

    @work(group="inspector")
    async def show_properties(self, *, focus: bool = False, edge: str | None = None) -> None:
        """Show the selected node's fields, or the workflow's (``focus``: then edit them;
        ``edge``: then edit that outgoing edge's condition)."""
        selected = self.canvas.selected
        node = None
        outgoing: list[dict[str, Any]] = []
        extra: tuple[Field, ...] = ()
        if selected is not None and selected in self.editor.node_ids():
            node, outgoing = self.editor.node(selected), self.editor.outgoing(selected)
            extra = self.extra_fields(node)
            node.update(inspector_values(self.editor.to_data().get("metadata"), selected))
        await self.query_one(Inspector).show_node(
            node,
            outgoing,
            workflow=self.editor.to_data(),
            read_only=self.editor.read_only,
            extra=extra,
        )
        if edge is not None and self.is_attached:
            self.query_one(Inspector).focus_edge(edge)
        elif focus and self.is_attached:
            self.query_one(Inspector).focus_first()

    def extra_fields(self, node: dict[str, Any]) -> tuple[Field, ...]:
        """Fields the screen's parts add after the node's own (their values are put in
        the node's dict under the field's key)."""
        return ()

    def apply_property(self, event: Inspector.PropertyChanged) -> None:
        """Store one field the inspector committed (a node's, an edge's, the workflow's,
        or a simulated value)."""
        if event.edge is not None:
            self._edit(self.editor.set_edge_property, event.edge, event.key, event.value)
        elif event.node_id is not None and event.key in (OUTPUT, FAILS, CHOICE):
            self._edit(self.editor.set_simulated, event.node_id, event.key, event.value)
        elif event.node_id is None:
            self._edit(self.editor.set_workflow_property, event.key, event.value)
        else:
            new_id = str(event.value) if event.key == "id" and event.value else event.node_id
            self._edit(
                self.editor.set_property, event.node_id, event.key, event.value, select=new_id
            )

    def _edit(self, change: Any, *args: Any, select: str | None = None, **kwargs: Any) -> Any:
        """Apply one editor operation; a refused edit is a notification, never a crash."""
        try:
            result = change(*args, **kwargs)
        except DagqError as exc:
            self.notify(exc.message, severity="warning")
            return None
        if self.simulation_note:  # the design changed: the painted simulation is stale
            self.simulation_note = ""
            self.canvas.set_statuses({})
        self.refresh_design(select=select)
        return result

    def _refuse_edit(self) -> bool:
        if self.role_refusal:
            self.notify(f"Read-only: {self.role_refusal}.", severity="warning")
            return True
        if self.editor.read_only:
            self.notify("This version is read-only; open the current version to edit it.")
            return True
        return False
