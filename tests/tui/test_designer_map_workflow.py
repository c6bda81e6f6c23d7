"""Pilot test of a map node that runs a sub-workflow per item, built in the Designer's
inspector (workflow, version and child parameters, as a sub-workflow node has), against a
real API and the test Redis."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, TextArea

from app.screens.designer import DesignerScreen
from app.widgets.inspector import Inspector
from app.widgets.validation_panel import ValidationPanel
from tests.tui.conftest import Tui, type_text, wait_for
from tests.tui.test_designer_params import SIZE, focus_field, open_parent, store_with_child

TARGET = "needs exactly one of handler (a function per item) or workflow (a sub-workflow per item)"
PARAMS = {"order_id": "output.item.id"}


def parent_spec() -> dict[str, Any]:
    """start -> each (a map node running a handler per item)."""
    return {
        "id": "parent-wf",
        "name": "Parent",
        "nodes": [
            {"id": "start", "type": "task", "handler": "fetchData"},
            {"id": "each", "type": "map", "items": "output.items", "handler": "fetchData"},
        ],
        "edges": [{"source": "start", "target": "each"}],
    }


def _problems(screen: DesignerScreen) -> str:
    panel = screen.query_one(ValidationPanel)
    return "\n".join(str(panel.get_option_at_index(i).prompt) for i in range(panel.option_count))


async def _focused_input(pilot: Any, value: str) -> None:
    def there() -> bool:
        focused = pilot.app.focused
        return isinstance(focused, Input) and focused.value == value

    await wait_for(pilot, there, what=f"the field holding {value!r} focused")


async def _field(pilot: Any, screen: DesignerScreen, enters: int, value: str) -> None:
    """Out of the inspector, then the field of ``each`` ``enters`` Enters after its id."""
    focused = pilot.app.focused
    if focused is not None and screen.query_one(Inspector) in focused.ancestors:
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.focused is screen.canvas, what="the canvas")
    await focus_field(pilot, screen, "each", enters)
    await _focused_input(pilot, value)


async def test_map_over_a_sub_workflow_is_built_in_the_inspector_and_saved(tui: Tui) -> None:
    await store_with_child(tui, parent_spec())
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_parent(pilot)
        assert TARGET not in _problems(screen)

        # Id, name, items, handler, then the workflow: with the handler kept, both are set.
        await _field(pilot, screen, 4, "")
        await type_text(pilot, "child-wf")
        await pilot.press("enter")
        await wait_for(pilot, lambda: TARGET in _problems(screen), what="both: the problem")
        assert screen.editor.node("each")["workflow"] == "child-wf"

        # Cleared, the handler leaves the workflow alone: no problem.
        await _field(pilot, screen, 3, "fetchData")
        await pilot.press("backspace", "enter")  # the value is selected on focus
        await wait_for(pilot, lambda: TARGET not in _problems(screen), what="problem gone")
        assert "handler" not in screen.editor.node("each")

        # Then the version, and the child parameters (the sub-workflow node's own field).
        await _field(pilot, screen, 5, "")
        await type_text(pilot, "1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, TextArea), what="params")
        await type_text(pilot, "order_id = output.item.id")
        await pilot.press("tab")
        await wait_for(pilot, lambda: "params" in screen.editor.node("each"), what="params set")
        assert screen.editor.node("each")["params"] == PARAMS
        await pilot.press("f10")
        await wait_for(pilot, lambda: screen.editor.version == 2, what="version 2")
        async with tui.client() as client:
            stored = await client.get_version("parent-wf", 2)
        (each,) = [n for n in stored.spec["nodes"] if n["id"] == "each"]
        assert (each.get("handler"), each["workflow"], each["version"]) == (None, "child-wf", 1)
        assert each["params"] == PARAMS

        # Neither: without the workflow too, the same problem names the node.
        await _field(pilot, screen, 4, "child-wf")
        await pilot.press("backspace", "enter")
        await wait_for(pilot, lambda: TARGET in _problems(screen), what="neither: the problem")
        assert f"map node 'each' {TARGET}" in _problems(screen)
