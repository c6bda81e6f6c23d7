"""Pilot tests of editing and deleting edges in the Designer, as a user does: ``u`` and
its list, the command palette's "Delete edge…", the inspector's delete button (the
mouse), and the edge's condition, label and default fields checked as they are typed."""

from __future__ import annotations

from typing import Any

from textual.widgets import Button, Input, OptionList, Select

from app.screens.designer import DesignerScreen
from app.screens.dialogs.choice import ChoiceDialog
from app.widgets.design_canvas import DesignCanvas
from app.widgets.inspector import Inspector
from orchestrator.spec.export import spec_to_data
from orchestrator.spec.loader import load_file
from tests.tui.conftest import EXAMPLES, Tui, notifications, type_text, wait_for
from tests.tui.test_designer import designer_of, goto, status
from tests.tui.test_workflows_screen import listed

SIZE = (120, 48)
CHECK_EDGES = [
    "transform->quality_check",
    "quality_check->store_primary",
    "quality_check->store_backup",
]


async def store_example(tui: Tui, name: str = "data-pipeline.yaml") -> None:
    """Store an example through the API (before the app starts: its list shows it)."""
    async with tui.client() as client:
        await client.create_workflow(spec_to_data(load_file(EXAMPLES / name)))


async def open_example(pilot: Any) -> DesignerScreen:
    """Open the only stored workflow from the list with Enter."""
    await listed(pilot)
    await pilot.press("enter")
    return await designer_of(pilot)


async def edge_fields(pilot: Any, screen: DesignerScreen, node_id: str) -> Inspector:
    """``node_id`` selected, its inspector showing its outgoing edges' fields."""
    await goto(pilot, screen, node_id)
    inspector = screen.query_one(Inspector)
    count = len(screen.editor.outgoing(node_id))
    await wait_for(
        pilot,
        lambda: inspector.node_id == node_id and len(inspector.query(".delete-edge")) == count,
        what=f"{node_id}'s edge fields",
    )
    return inspector


def top_command(app: Any) -> str:
    """The command palette's first hit ("" while it has none)."""
    lists = app.screen.query("CommandList").results(OptionList)
    found = next(iter(lists), None)
    return str(found.get_option_at_index(0).prompt) if found and found.option_count else ""


def field_of(inspector: Inspector, edge: str, key: str) -> Any:
    """The widget editing ``key`` of the outgoing edge ``edge``."""
    for widget, field in inspector._fields.items():
        if inspector._edges.get(widget) == edge and field.key == key:
            return widget
    raise AssertionError(f"no {key} field for {edge}")


async def test_u_lists_the_selected_nodes_edges_and_deletes_the_chosen(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        await goto(pilot, screen, "quality_check")
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the edge list")
        options = app.screen.query_one(OptionList)
        listed_edges = [str(options.get_option_at_index(i).id) for i in range(options.option_count)]
        assert listed_edges == CHECK_EDGES
        prompt = str(options.get_option_at_index(2).prompt)
        assert prompt == "quality_check → store_backup  (false)"
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: "Edges: 6" in status(screen), what="one edge fewer")
        assert "quality_check->store_backup" not in [
            f"{e['source']}->{e['target']}" for e in screen.editor.edges
        ]
        assert "Edge deleted: Deleted quality_check → store_backup  (false) (ctrl+z undoes)" in (
            notifications(app)
        )
        # store_backup now has no way in: the validator says so at once
        assert "● modified" in status(screen)
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: "Edges: 7" in status(screen), what="the edge back")

        await pilot.press("u", "escape")  # escape keeps every edge
        await wait_for(pilot, lambda: isinstance(app.screen, DesignerScreen), what="designer")
        assert "Edges: 7" in status(screen)


async def test_delete_edge_from_the_command_palette(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        await goto(pilot, screen, "store_primary")
        await pilot.press("ctrl+p")
        await type_text(pilot, "Delete edge")
        # the palette searches in a worker: Enter once its top hit is the command
        await wait_for(pilot, lambda: "Delete edge" in top_command(app), what="the command")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the edge list")
        await pilot.press("down", "enter")  # its second edge: store_primary -> notify
        await wait_for(pilot, lambda: "Edges: 6" in status(screen), what="deleted")
        assert [e["target"] for e in screen.editor.edges if e["source"] == "store_primary"] == []


async def test_the_inspector_edits_an_edge_and_its_button_deletes_it(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        inspector = await edge_fields(pilot, screen, "quality_check")
        key = "quality_check->store_backup"

        condition = field_of(inspector, key, "condition")
        assert condition.placeholder == "true, false or e.g. output.x > 1"
        condition.focus()
        await type_text(pilot, "output.quality <")  # checked as typed: refused, not stored
        await pilot.press("enter")
        problems = [str(p.render()) for p in inspector.query(".problem") if p.display]
        assert problems and "output.quality <" not in str(screen.editor.edge(key))
        await type_text(pilot, "= 0.95")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: screen.editor.edge(key).get("condition") == "output.quality <= 0.95",
            what="the condition stored",
        )

        label = field_of(inspector, key, "label")
        label.focus()
        await type_text(pilot, "low quality")
        await pilot.press("escape")  # escape cancels the edit: nothing stored
        assert "label" not in screen.editor.edge(key)
        label.focus()
        await type_text(pilot, "low quality")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: screen.editor.edge(key).get("label") == "low quality", what="label"
        )

        default = field_of(inspector, key, "default")
        assert isinstance(default, Select) and default.value == "no"
        default.focus()
        await pilot.press("enter", "down", "enter")  # open the drop-down, pick "yes"
        await wait_for(pilot, lambda: screen.editor.edge(key).get("default") is True, what="dflt")

        # the mouse: the edge's delete button
        buttons = list(inspector.query(".delete-edge").results(Button))
        inspector.scroll_to_widget(buttons[1], animate=False)
        await pilot.pause()
        await pilot.click(buttons[1])
        await wait_for(pilot, lambda: "Edges: 6" in status(screen), what="deleted by click")
        assert all(e.get("target") != "store_backup" for e in screen.editor.edges)


async def test_an_operator_cannot_delete_an_edge(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("operator")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        inspector = await edge_fields(pilot, screen, "quality_check")
        assert all(b.disabled for b in inspector.query(".delete-edge").results(Button))
        assert all(i.disabled for i in inspector.query(Input))
        await pilot.press("u")
        assert isinstance(app.screen, DesignerScreen)
        assert "Edges: 7" in status(screen)


async def test_a_click_on_an_edge_opens_its_fields(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        canvas = screen.query_one(DesignCanvas)
        await wait_for(pilot, lambda: canvas.layout_result is not None, what="drawn")
        layout = canvas.layout_result
        assert layout is not None
        key = "quality_check->store_backup"
        route = next(r for r in layout.routes if r.edge_id == key)
        assert route.label == "false" and route.label_at is not None
        x, y = route.label_at  # click the edge's label
        scroll_x, scroll_y = canvas.scroll_offset
        await pilot.click(canvas, offset=(x + canvas._pad_x() - scroll_x, y - scroll_y))
        inspector = screen.query_one(Inspector)
        await wait_for(
            pilot,
            lambda: (
                inspector.node_id == "quality_check"
                and app.focused is field_of(inspector, key, "condition")
            ),
            what="the edge's condition focused",
        )
        assert screen.canvas.selected == "quality_check"
