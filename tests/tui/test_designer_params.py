"""Pilot tests of editing a sub-workflow node's child parameters in the Designer's
inspector (``name = expression`` lines), against a real API and the test Redis."""

from __future__ import annotations

from typing import Any

import yaml
from textual.widgets import Input, TextArea

from app.fields import check_params, params_text, parse_params
from app.screens.designer import DesignerScreen
from app.widgets.inspector import Inspector
from tests.tui.conftest import Tui, notifications, type_text, wait_for
from tests.tui.test_designer import designer_of, goto
from tests.tui.test_workflows_screen import listed

SIZE = (120, 40)
STORED = {"order_id": "output.id"}
LABEL = "Child parameters (name = expression)"


def child_spec() -> dict[str, Any]:
    """The workflow the sub-workflow node starts."""
    return {
        "id": "child-wf",
        "name": "Child",
        "parameters": {"order_id": {"type": "string"}, "priority": {"type": "integer"}},
        "nodes": [{"id": "work", "type": "task", "handler": "fetchData"}],
    }


def parent_spec() -> dict[str, Any]:
    """start -> call (a sub-workflow node with one child parameter)."""
    return {
        "id": "parent-wf",
        "name": "Parent",
        "nodes": [
            {"id": "start", "type": "task", "handler": "fetchData"},
            {"id": "call", "type": "subworkflow", "workflow": "child-wf", "params": STORED},
        ],
        "edges": [{"source": "start", "target": "call"}],
    }


async def store_with_child(tui: Tui, parent: dict[str, Any]) -> None:
    """Store the child workflow, then ``parent`` (which calls it)."""
    async with tui.client() as client:
        await client.create_workflow(child_spec())
        await client.create_workflow(parent)


async def open_parent(pilot: Any) -> DesignerScreen:
    """Open ``parent-wf`` from the workflow list in the Designer."""
    (await listed(pilot)).open_workflow("parent-wf")
    return await designer_of(pilot)


def test_name_expression_lines_parse_in_order_and_every_bad_line_is_named() -> None:
    text = "order_id = output.id\n\n  priority= params.level + 1  \n"
    assert list(parse_params(text).items()) == [
        ("order_id", "output.id"),
        ("priority", "params.level + 1"),
    ]
    assert params_text(parse_params(text)) == "order_id = output.id\npriority = params.level + 1"
    assert parse_params(" \n") == {}
    problem = check_params("a: output.x\n= output.y\nb =\nc = 1 +\nd = output.x\nd = 2")
    assert problem is not None
    assert problem.splitlines() == [
        "line 1: write name = expression (with =, not :)",
        "line 2: the parameter's name is missing before =",
        "line 3: b = what? an expression follows = (e.g. output.id)",
        "line 4: c: expression does not parse: invalid syntax",
        "(+1 more)",
    ]
    assert "line 2: d is given twice (first on line 1)" in str(check_params("d = 1\nd = 2"))
    assert "unknown name 'secret'" in str(check_params("x = secret.key"))


def _params(screen: DesignerScreen) -> dict[str, str] | None:
    return screen.editor.node("call").get("params")


def _problem(screen: DesignerScreen) -> str:
    shown = [w for w in screen.query_one(Inspector).query(".problem") if w.display]
    return "\n".join(str(w.render()) for w in shown)


async def focus_field(pilot: Any, screen: DesignerScreen, node_id: str, enters: int) -> None:
    """Select ``node_id``, ``i``, then Enter ``enters`` times from its id field."""
    await goto(pilot, screen, node_id)
    await pilot.press("i")

    def on_the_id() -> bool:
        focused = pilot.app.focused
        return isinstance(focused, Input) and focused.value == node_id

    await wait_for(pilot, on_the_id, what=f"{node_id}'s id field focused")
    for _ in range(enters):
        await pilot.press("enter")


async def _focus_params(pilot: Any, screen: DesignerScreen) -> TextArea:
    """Select ``call``, ``i``, then Enter through id, name, workflow, version."""
    await focus_field(pilot, screen, "call", 4)
    await wait_for(pilot, lambda: isinstance(pilot.app.focused, TextArea), what="the field")
    area = pilot.app.focused
    assert isinstance(area, TextArea)
    return area


async def _retype(pilot: Any, area: TextArea, *lines: str) -> None:
    area.clear()
    for i, line in enumerate(lines):
        if i:
            await pilot.press("enter")  # a new line, not the end of the field
        await type_text(pilot, line)


async def test_edit_child_parameters_keep_bad_input_then_save_and_export(tui: Tui) -> None:
    await store_with_child(tui, parent_spec())
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_parent(pilot)
        area = await _focus_params(pilot, screen)
        assert area.text == "order_id = output.id"

        # A YAML habit: refused with the line and the fix; nothing is stored.
        await _retype(pilot, area, "order_id: output.id")
        await wait_for(pilot, lambda: "with =, not :" in _problem(screen), what="the problem")
        assert area.has_class("-invalid")
        await pilot.press("tab", "escape")  # leaving it stores nothing...
        assert _params(screen) == STORED
        await goto(pilot, screen, "start")  # ...and loses nothing: back on call, as typed
        area = await _focus_params(pilot, screen)
        assert area.text == "order_id: output.id"
        assert "line 1: write name = expression" in _problem(screen)
        await pilot.press("f10")  # a save does not skip the field being typed in
        await wait_for(pilot, lambda: "Not saved" in " ".join(notifications(app)), what="refusal")
        assert f"Fix it first: {LABEL}: line 1: write name" in " ".join(notifications(app))
        await pilot.press("escape")  # Escape puts back what is stored
        assert area.text == "order_id = output.id"
        await wait_for(pilot, lambda: _problem(screen) == "", what="the problem gone")

        area = await _focus_params(pilot, screen)
        await _retype(pilot, area, "order_id = output.id", "priority = params.level + 1")
        assert _problem(screen) == ""
        await pilot.press("f10")  # saved straight from the field
        await wait_for(pilot, lambda: screen.editor.version == 2, what="version 2")
        wanted = {"order_id": "output.id", "priority": "params.level + 1"}
        assert _params(screen) == wanted
        async with tui.client() as client:
            stored = await client.get_version("parent-wf", 2)
        (call,) = [n for n in stored.spec["nodes"] if n["id"] == "call"]
        assert call["params"] == wanted
        exported = yaml.safe_load(screen.editor.export("yaml", screen.canvas.positions()))
        (call,) = [n for n in exported["nodes"] if n["id"] == "call"]
        assert call["params"] == wanted

        # Opened again from the API, the field shows the same lines.
        await pilot.press("escape")  # out of the field, then out of the designer
        await wait_for(pilot, lambda: pilot.app.focused is screen.canvas, what="the canvas")
        await pilot.press("escape")
        screen = await open_parent(pilot)
        area = await _focus_params(pilot, screen)
        assert area.text == "order_id = output.id\npriority = params.level + 1"
