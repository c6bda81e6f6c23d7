"""The property inspector: the selected node's fields (per type, from :mod:`app.kinds`),
checked as you type, then each outgoing edge's condition, label and default.

A typed field is an :class:`~textual.widgets.Input`; what is typed is checked at once
(durations, cron, expressions, ids, numbers, JSON) and the problem shown under the field.
A field with choices (a parallel's join, an edge's default) is a drop-down.  A
sub-workflow's child parameters are a multi-line field, ``name = expression`` a line
(Enter starts a new line; Tab or leaving it applies it).  A multi-line text with a
problem is kept as typed, with its problems listed, even when another node is shown
in between; nothing is stored until it is fixed (Escape puts back what is stored).
Enter (or leaving a changed field) posts :class:`Inspector.PropertyChanged` with the
converted value, and moves to the next field; Escape puts the focused field back as it
was and posts :class:`Inspector.Closed`, as Enter on the last field does.  Each edge has
a button that posts :class:`Inspector.EdgeDeleted`.
The screen decides what to do with them.  With no node selected it shows the
workflow's own fields (name, description, tags).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events, on
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from app.fields import EDGE_FIELDS, Field, params_text, parse_params
from app.kinds import kind_view
from app.text import clip, safe, visible
from orchestrator.spec.diff import edge_key

EDGE_TARGET_WIDTH = 40
"""Cells of a target's id in an edge's label (the id is whole in the target's own heading)."""

WORKFLOW_FIELDS = (
    Field("name", "Workflow name"),
    Field("description", "Description"),
    Field("tags", "Tags", kind="tags", placeholder="comma separated"),
)


def shown(value: Any) -> str:
    """A property value as the text in its field, controls shown as escapes.

    Inputs draw their text as it is, so a control character would reach the terminal:
    the field holds the visible form instead (an edited field stores what it shows).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return visible(json.dumps(value))
    if isinstance(value, list):
        return ", ".join(visible(v) for v in value)
    return visible(value)


def convert(field: Field, text: str) -> Any:
    """The typed text as the value to store (None removes the property)."""
    text = text.strip()
    if not text:
        return None
    if field.kind == "int":
        return int(text)
    if field.kind == "edge":
        return {"true": True, "false": False}.get(text.lower(), text)
    if field.kind == "bool":
        return text == "yes" or None
    if field.kind == "tags":
        return [t.strip() for t in text.split(",") if t.strip()]
    if field.kind == "params":
        return parse_params(text) or None
    return text


@dataclass(frozen=True, slots=True)
class Row:
    """One field the inspector shows: what it edits, its value, the edge it belongs to."""

    field: Field
    value: str
    edge: str | None = None
    """The key of the outgoing edge this field edits (None: the node's or workflow's)."""


Editable = Input | Select[str] | TextArea


class Inspector(VerticalScroll):
    """Fields of the selected node (or of the workflow), edited in place."""

    DEFAULT_CSS = """
    Inspector { height: auto; max-height: 100%; padding: 0 1; }
    Inspector Label { color: $text-muted; margin-top: 0; }
    Inspector Input { height: 1; border: none; padding: 0 1; background: $boost; }
    Inspector Input:focus { background: $accent 30%; border: none; }
    Inspector Input.-invalid { background: $error 30%; }
    Inspector TextArea { height: auto; max-height: 10; border: none; padding: 0;
                         background: $boost; }
    Inspector TextArea:focus { background: $accent 30%; border: none; }
    Inspector TextArea.-invalid { background: $error 30%; }
    Inspector .problem { color: $error; height: auto; }
    Inspector .edge { text-style: bold; margin-top: 1; }
    Inspector Button.delete-edge { min-width: 0; height: 1; border: none; margin: 0; }
    Inspector #heading { text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back to the canvas", show=False),
    ]

    @dataclass
    class PropertyChanged(Message):
        """A node's (``node_id``) or the workflow's (None) ``key`` got ``value``."""

        node_id: str | None
        key: str
        value: Any
        edge: str | None = None
        """Set when the property is one of this outgoing edge's (its key)."""

    @dataclass
    class EdgeDeleted(Message):
        """The delete button of the outgoing edge with this key was pressed."""

        edge: str

    @dataclass
    class Closed(Message):
        """Escape: the user is done with the fields."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._node_id: str | None = None
        self._fields: dict[Editable, Field] = {}
        self._problems: dict[Editable, Static] = {}
        self._committed: dict[Editable, str] = {}
        self._edges: dict[Editable, str] = {}
        self._buttons: dict[Button, str] = {}
        self._drafts: dict[tuple[str | None, str], str] = {}
        """Multi-line texts with a problem, by (node, field key): kept until fixed."""
        self._handlers: list[str] = []
        self._signature: tuple[Any, ...] | None = None
        # One redraw at a time, in order: a redraw interrupted half-way would leave
        # fields without their labels.
        self._lock = asyncio.Lock()
        self.read_only = False
        self.placeholders: dict[str, str] = {}
        """Placeholders that depend on the deployment (the real default timeout)."""

    @property
    def node_id(self) -> str | None:
        """The node shown (None: the workflow's fields)."""
        return self._node_id

    def set_handlers(self, names: Sequence[str]) -> None:
        """Handler names live workers offer, suggested while typing a handler."""
        # Workers report these names: suggestions are drawn as typed text, so visible forms.
        self._handlers = sorted({visible(name) for name in names})
        for inp, field in self._fields.items():
            if field.kind == "handler" and isinstance(inp, Input):
                inp.suggester = SuggestFromList(self._handlers, case_sensitive=True)

    async def show_node(
        self,
        node: dict[str, Any] | None,
        outgoing: Sequence[dict[str, Any]] = (),
        *,
        workflow: dict[str, Any] | None = None,
        read_only: bool = False,
        extra: Sequence[Field] = (),
    ) -> None:
        """Show ``node``'s fields (then ``extra``, whose values ``node`` carries too) and
        its outgoing edges'; None shows ``workflow``.

        When the same fields are already shown (the same node after an edit, even a
        rename) only the values are refreshed, so the focused field keeps the focus.
        """
        async with self._lock:
            await self._show(node, outgoing, workflow or {}, read_only, extra)

    async def _show(
        self,
        node: dict[str, Any] | None,
        outgoing: Sequence[dict[str, Any]],
        workflow: dict[str, Any],
        read_only: bool,
        extra: Sequence[Field],
    ) -> None:
        kind = str(node.get("type")) if node else None
        fields = [*(WORKFLOW_FIELDS if node is None else kind_view(kind).fields), *extra]
        source = node if node is not None else workflow
        rows = [Row(f, _text(f, source.get(f.key))) for f in fields]
        for edge in outgoing:
            rows += [Row(f, _text(f, edge.get(f.key)), edge_key(edge)) for f in EDGE_FIELDS]
        targets = tuple(str(e.get("target")) for e in outgoing)
        signature = (kind, tuple(f.key for f in fields), targets, read_only)
        heading = safe(
            "Workflow" if node is None else f"Node: {node['id']}  Type: {str(kind).title()}"
        )
        self._node_id = str(node["id"]) if node else None
        if signature == self._signature:
            self._refresh_values(heading, rows)
            return
        self._signature = None
        self.read_only = read_only
        await self.remove_children()
        for table in (self._fields, self._problems, self._committed, self._edges, self._buttons):
            table.clear()
        widgets: list[Widget] = [Static(heading, id="heading")]
        edge_of = {edge_key(e): str(e.get("target")) for e in outgoing}
        for row in rows:
            if row.edge is not None and row.field is EDGE_FIELDS[0]:
                widgets += self._edge_heading(row.edge, edge_of[row.edge])
            widgets += self._field(row)
        await self.mount_all(widgets)
        self._signature = signature

    def _refresh_values(self, heading: Any, rows: Sequence[Row]) -> None:
        self.query_one("#heading", Static).update(heading)
        edges = list(dict.fromkeys(row.edge for row in rows if row.edge is not None))
        for button, key in zip(list(self._buttons), edges, strict=True):
            self._buttons[button] = key  # a renamed source changes its edges' keys
        for widget, row in zip(list(self._fields), rows, strict=True):
            if row.edge is not None:
                self._edges[widget] = row.edge
            if not widget.has_focus:
                _set_value(widget, self._drafted(row))
                self._committed[widget] = row.value

    def _edge_heading(self, key: str, target: str) -> list[Widget]:
        label = safe(f"→ {clip(target, EDGE_TARGET_WIDTH)}")
        button = Button("✕ delete edge", classes="delete-edge", disabled=self.read_only)
        button.tooltip = "Remove this edge (u on the canvas, or Delete edge… in ctrl+p)"
        self._buttons[button] = key
        return [Static(label, classes="edge"), button]

    def _drafted(self, row: Row) -> Row:
        """``row`` with the kept draft of its field, if there is one."""
        draft = self._drafts.get((self._node_id, row.field.key)) if row.edge is None else None
        return row if draft is None else Row(row.field, draft, row.edge)

    def _field(self, row: Row) -> list[Widget]:
        field = row.field
        widget: Editable
        if field.kind == "params":
            widget = TextArea(
                self._drafted(row).value,
                tab_behavior="focus",
                soft_wrap=True,
                compact=True,
                show_line_numbers=True,
                placeholder=field.placeholder,
                disabled=self.read_only,
            )
        elif field.choices:
            widget = Select(
                [(c, c) for c in field.choices],
                value=row.value if row.value in field.choices else Select.NULL,
                prompt=field.placeholder or field.choices[0],
                allow_blank=field.kind != "bool",
                compact=True,
                disabled=self.read_only,
            )
        else:
            widget = Input(
                value=row.value,
                placeholder=self.placeholders.get(field.key, field.placeholder),
                disabled=self.read_only,
                select_on_focus=True,
            )
            if field.kind == "handler" and self._handlers:
                widget.suggester = SuggestFromList(self._handlers, case_sensitive=True)
        if row.edge is not None:
            self._edges[widget] = row.edge
        problem = Static("", classes="problem")
        problem.display = False
        self._fields[widget] = field
        self._problems[widget] = problem
        self._committed[widget] = row.value
        if isinstance(widget, TextArea) and widget.text != row.value:
            self._show_problem(widget)  # a kept draft: its problems with it
        return [Label(safe(field.label)), widget, problem]

    def focus_first(self) -> None:
        """Focus the first field (after adding a node: type its id straight away)."""
        for widget in self._fields:
            widget.focus(scroll_visible=False)
            self.scroll_home(animate=False)  # the heading stays in view
            return

    def focus_edge(self, key: str) -> None:
        """Focus the first field of the outgoing edge ``key`` (its condition), in view."""
        for widget, edge in self._edges.items():
            if edge == key:
                widget.focus()
                return

    def problem_of(self, widget: Editable) -> str | None:
        """What is wrong with the text in ``widget`` now, if anything."""
        field = self._fields.get(widget)
        text = _value_of(widget).strip()
        if field is None or field.check is None or not text or field.choices:
            return None
        return field.check(text)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show_problem(event.input)

    @on(TextArea.Changed)
    def _area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._show_problem(event.text_area)

    def _show_problem(self, widget: Input | TextArea) -> None:
        problem = self.problem_of(widget)
        label = self._problems.get(widget)
        widget.set_class(problem is not None, "-invalid")
        if label is not None:
            label.update(safe(problem, multiline=True))
            label.display = problem is not None

    @on(Select.Changed)
    def _chosen(self, event: Select.Changed) -> None:
        event.stop()
        select: Any = event.select
        if select in self._fields:
            self._commit(select)

    @on(Button.Pressed, ".delete-edge")
    def _delete_edge(self, event: Button.Pressed) -> None:
        event.stop()
        key = self._buttons.get(event.button)
        if key is not None and not self.read_only:
            self.post_message(self.EdgeDeleted(key))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.problem_of(event.input) is not None:
            return  # stay on the field until it is fixed (or Escape)
        self._commit(event.input)
        inputs = list(self._fields)
        if event.input is inputs[-1]:
            self.post_message(self.Closed())  # the last field: back to the canvas
        else:
            inputs[inputs.index(event.input) + 1].focus()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        """Leaving a changed field commits it, as Enter would."""
        if isinstance(event.widget, Input | TextArea):
            self._commit(event.widget)

    def _commit(self, widget: Editable) -> None:
        change = self._take(widget)
        if isinstance(change, Inspector.PropertyChanged):
            self.post_message(change)

    def take_focused_edit(self) -> PropertyChanged | str | None:
        """Commit the focused field now, for a save that must include it: its change
        (not posted: the caller applies it at once), the problem that keeps it from
        being stored (``label: problem``), or None when there is nothing to commit."""
        focused = self.screen.focused
        if isinstance(focused, Input | TextArea) and focused in self._fields:
            return self._take(focused)
        return None

    def _take(self, widget: Editable) -> PropertyChanged | str | None:
        field = self._fields.get(widget)
        value = _value_of(widget)
        if field is None or value == self._committed.get(widget) or self.read_only:
            return None
        draft = (self._node_id, field.key)
        problem = self.problem_of(widget)
        if problem is not None:
            if isinstance(widget, TextArea) and widget not in self._edges:
                self._drafts[draft] = value  # kept as typed until fixed or Escape
            return f"{field.label}: {problem}"  # shown under the field; nothing is stored
        self._drafts.pop(draft, None)
        self._committed[widget] = value
        return self.PropertyChanged(
            self._node_id, field.key, convert(field, value), self._edges.get(widget)
        )

    def action_close(self) -> None:
        """Escape: put the focused field back as it was (the edit is cancelled), then
        hand focus back."""
        focused = self.screen.focused
        if isinstance(focused, Input | TextArea) and focused in self._committed:
            field = self._fields[focused]
            self._drafts.pop((self._node_id, field.key), None)
            _set_value(focused, Row(field, self._committed[focused]))
        self.post_message(self.Closed())


def _value_of(widget: Editable) -> str:
    if isinstance(widget, Input):
        return widget.value
    if isinstance(widget, TextArea):
        return widget.text
    return "" if widget.value is Select.NULL else str(widget.value)


def _text(field: Field, value: Any) -> str:
    """What the field of ``value`` shows (a yes/no choice for a flag)."""
    if field.kind == "bool":
        return "yes" if value else "no"
    if field.kind == "params" and isinstance(value, dict):
        return params_text({visible(k): visible(v) for k, v in value.items()})
    return shown(value)


def _set_value(widget: Editable, row: Row) -> None:
    if isinstance(widget, TextArea):
        if widget.text != row.value:
            widget.text = row.value
    elif isinstance(widget, Input) or row.value in row.field.choices:
        widget.value = row.value
    else:
        widget.clear()
