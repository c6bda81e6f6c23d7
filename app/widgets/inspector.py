"""The property inspector: the selected node's fields (per type, from :mod:`app.kinds`),
checked as you type.

Each field is an :class:`~textual.widgets.Input`; what is typed is checked at once
(durations, cron, expressions, ids, numbers) and the problem shown under the field.
Enter (or leaving a changed field) posts :class:`Inspector.PropertyChanged` with the
converted value, and moves to the next field; Escape, or Enter on the last field, posts
:class:`Inspector.Closed`.
The screen decides what to do with them.  With no node selected it shows the
workflow's own fields (name, description, tags).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events, on
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

from app.fields import Field, check_edge_condition
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
    if field.kind == "tags":
        return [t.strip() for t in text.split(",") if t.strip()]
    return text


class Inspector(VerticalScroll):
    """Fields of the selected node (or of the workflow), edited in place."""

    DEFAULT_CSS = """
    Inspector { height: auto; max-height: 100%; padding: 0 1; }
    Inspector Label { color: $text-muted; margin-top: 0; }
    Inspector Input { height: 1; border: none; padding: 0 1; background: $boost; }
    Inspector Input:focus { background: $accent 30%; border: none; }
    Inspector Input.-invalid { background: $error 30%; }
    Inspector .problem { color: $error; height: auto; }
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
        """Set when the property is the condition of this outgoing edge (its key)."""

    @dataclass
    class Closed(Message):
        """Escape: the user is done with the fields."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._node_id: str | None = None
        self._fields: dict[Input, Field] = {}
        self._problems: dict[Input, Static] = {}
        self._committed: dict[Input, str] = {}
        self._edges: dict[Input, str] = {}
        self._handlers: list[str] = []
        self._signature: tuple[Any, ...] | None = None
        # One redraw at a time, in order: a redraw interrupted half-way would leave
        # fields without their labels.
        self._lock = asyncio.Lock()
        self.read_only = False

    @property
    def node_id(self) -> str | None:
        """The node shown (None: the workflow's fields)."""
        return self._node_id

    def set_handlers(self, names: Sequence[str]) -> None:
        """Handler names live workers offer, suggested while typing a handler."""
        # Workers report these names: suggestions are drawn as typed text, so visible forms.
        self._handlers = sorted({visible(name) for name in names})
        for inp, field in self._fields.items():
            if field.kind == "handler":
                inp.suggester = SuggestFromList(self._handlers, case_sensitive=True)

    async def show_node(
        self,
        node: dict[str, Any] | None,
        outgoing: Sequence[dict[str, Any]] = (),
        *,
        workflow: dict[str, Any] | None = None,
        read_only: bool = False,
    ) -> None:
        """Show ``node``'s fields and its outgoing edges' conditions; None shows ``workflow``.

        When the same fields are already shown (the same node after an edit, even a
        rename) only the values are refreshed, so the focused field keeps the focus.
        """
        async with self._lock:
            await self._show(node, outgoing, workflow or {}, read_only)

    async def _show(
        self,
        node: dict[str, Any] | None,
        outgoing: Sequence[dict[str, Any]],
        workflow: dict[str, Any],
        read_only: bool,
    ) -> None:
        kind = str(node.get("type")) if node else None
        fields: Sequence[Field] = WORKFLOW_FIELDS if node is None else kind_view(kind).fields
        source = node if node is not None else workflow
        targets = tuple(str(e.get("target")) for e in outgoing)
        signature = (kind, tuple(f.key for f in fields), targets, read_only)
        heading = safe(
            "Workflow" if node is None else f"Node: {node['id']}  Type: {str(kind).title()}"
        )
        self._node_id = str(node["id"]) if node else None
        if signature == self._signature:
            self.query_one("#heading", Static).update(heading)
            values = [shown(source.get(f.key)) for f in fields]
            values += [shown(e.get("condition")) for e in outgoing]
            edge_keys = iter(edge_key(e) for e in outgoing)
            for inp, value in zip(list(self._fields), values, strict=True):
                if inp in self._edges:
                    self._edges[inp] = next(edge_keys)
                if not inp.has_focus:
                    inp.value = value
                self._committed[inp] = value if not inp.has_focus else self._committed[inp]
            return
        self._signature = None
        self.read_only = read_only
        await self.remove_children()
        self._fields.clear()
        self._problems.clear()
        self._committed.clear()
        self._edges.clear()
        widgets: list[Label | Input | Static] = [Static(heading, id="heading")]
        for field in fields:
            widgets += self._field(field, shown(source.get(field.key)))
        for edge in outgoing:
            target = clip(edge["target"], EDGE_TARGET_WIDTH)
            field = Field("condition", f"→ {target} when", check_edge_condition, "edge")
            inp_widgets = self._field(field, shown(edge.get("condition")))
            self._edges[next(w for w in inp_widgets if isinstance(w, Input))] = edge_key(edge)
            widgets += inp_widgets
        await self.mount_all(widgets)
        self._signature = signature

    def _field(self, field: Field, value: str) -> list[Label | Input | Static]:
        inp = Input(
            value=value,
            placeholder=field.placeholder,
            disabled=self.read_only,
            select_on_focus=True,
        )
        if field.kind == "handler" and self._handlers:
            inp.suggester = SuggestFromList(self._handlers, case_sensitive=True)
        problem = Static("", classes="problem")
        problem.display = False
        self._fields[inp] = field
        self._problems[inp] = problem
        self._committed[inp] = value
        return [Label(safe(field.label)), inp, problem]

    def focus_first(self) -> None:
        """Focus the first field (after adding a node: type its id straight away)."""
        for inp in self._fields:
            inp.focus()
            return

    def problem_of(self, inp: Input) -> str | None:
        """What is wrong with the text in ``inp`` now, if anything."""
        field = self._fields.get(inp)
        text = inp.value.strip()
        if field is None or field.check is None or not text:
            return None
        return field.check(text)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        problem = self.problem_of(event.input)
        label = self._problems.get(event.input)
        event.input.set_class(problem is not None, "-invalid")
        if label is not None:
            label.update(safe(problem, multiline=True))
            label.display = problem is not None

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
        if isinstance(event.widget, Input):
            self._commit(event.widget)

    def _commit(self, inp: Input) -> None:
        field = self._fields.get(inp)
        if field is None or inp.value == self._committed.get(inp) or self.read_only:
            return
        if self.problem_of(inp) is not None:
            return  # the problem is shown under the field; nothing is stored
        self._committed[inp] = inp.value
        value = convert(field, inp.value)
        self.post_message(
            self.PropertyChanged(self._node_id, field.key, value, self._edges.get(inp))
        )

    def action_close(self) -> None:
        """Escape: commit the focused field and hand focus back."""
        focused = self.screen.focused
        if isinstance(focused, Input):
            self._commit(focused)
        self.post_message(self.Closed())
