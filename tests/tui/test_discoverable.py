"""Pilot tests of the basics a new user looks for: an empty canvas says how to add a
node, the palette's keys add nodes on the canvas, the Id field is selected for
overwrite, the bar on top of every screen names the screens and their keys, F1 shows the
help of the screen on show (and how to close it and quit), q quits (asking first over
unsaved changes), and ``f`` fits the workflow to the view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import Input, Markdown, Select, Static

from app.screens.designer import DesignerScreen
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.help import HelpScreen
from app.widgets.design_canvas import DesignCanvas
from app.widgets.inspector import Inspector
from app.widgets.mode_bar import ModeBar
from tests.tui.conftest import Tui, type_text, wait_for
from tests.tui.test_designer import designer_of, status
from tests.tui.test_designer_edges import open_example, store_example
from tests.tui.test_workflows_screen import listed

SIZE = (120, 40)
BAR = " 1 Workflows   2 Monitor   3 Queues   4 Admin   5 Schedules   6 Approvals    F1 help  q quit"


def bar_of(pilot: Any) -> str:
    """The mode bar's text on the screen on show ("" while it has none)."""
    bars = pilot.app.screen.query(ModeBar)
    return str(bars.first().render()) if bars else ""


def mode_is(app: Any, mode: str) -> Callable[[], bool]:
    """A condition: ``mode`` is on show."""
    return lambda: bool(app.current_mode == mode)


async def help_of(pilot: Any) -> str:
    """F1: the help's Markdown source."""
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help")
    return str(pilot.app.screen.query_one(Markdown).source)


async def new_design(pilot: Any) -> DesignerScreen:
    """``n`` on the list, a name, Enter: an empty Designer."""
    await wait_for(pilot, lambda: bool(bar_of(pilot)), what="the list's bar")
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="name dialog")
    await type_text(pilot, "Fresh")
    await pilot.press("enter")
    return await designer_of(pilot)


async def test_empty_canvas_palette_keys_and_the_id_selected(tui: Tui) -> None:
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await new_design(pilot)
        hint = screen.query_one("#empty-hint", Static)
        assert hint.display
        said = str(hint.render())
        assert said.startswith("Empty workflow. Press t to add a task (D decision, X exclusive")
        assert "C compensation" in said
        assert said.endswith("or n to pick a type in the palette.")
        await pilot.press("t")  # as the palette shows it: [t] Task
        await wait_for(pilot, lambda: screen.editor.node_ids() == ["task_1"], what="a task")
        assert not hint.display
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="the id field")
        field = pilot.app.focused
        assert isinstance(field, Input) and field.value == "task_1"
        assert field.selected_text == "task_1"  # the first key overwrites it
        await type_text(pilot, "fetch")
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: screen.editor.node_ids() == ["fetch"], what="renamed")
        await pilot.press("D")  # [D] Decision: d deletes, so the capital adds
        await wait_for(pilot, lambda: len(screen.editor.node_ids()) == 2, what="a decision")
        assert screen.editor.node("decision_1")["type"] == "decision"
        await pilot.press("escape")  # leave the id field
        palette = [str(o.prompt) for o in screen.query_one("#palette").options]
        assert palette[:3] == ["[t] Task", "[D] Decision", "[X] Exclusive"]


async def test_the_bar_names_the_screens_on_every_screen(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        await wait_for(pilot, lambda: bool(bar_of(pilot)), what="the bar")
        assert bar_of(pilot) == BAR
        for key, mode in (("2", "monitor"), ("3", "queues"), ("4", "admin"), ("5", "schedules")):
            await pilot.press(key)
            await wait_for(pilot, mode_is(app, mode), what=mode)
            await wait_for(pilot, lambda: bool(bar_of(pilot)), what=f"{mode}'s bar")
            assert bar_of(pilot) == BAR
        await pilot.press("1")
        await open_example(pilot)
        await wait_for(pilot, lambda: bar_of(pilot).startswith(" 1 Designer "), what="over")


async def test_f1_is_the_help_of_the_screen_on_show(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        text = await help_of(pilot)
        assert text.startswith("# Help: Workflows")
        assert "Escape, F1 or q closes this help" in text and "ctrl+q" in text
        await pilot.press("q")  # closes the help, does not quit
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="closed")
        assert app.is_running
        await open_example(pilot)
        text = await help_of(pilot)
        assert text.startswith("# Help: Designer")
        assert "| `D` | add a decision node |" in text and "| `u` |" in text
        await pilot.press("escape")
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "queues", what="queues")
        assert (await help_of(pilot)).startswith("# Help: Queues")


async def test_q_quits_and_asks_first_over_unsaved_changes(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        await pilot.press("t")  # a change
        await wait_for(pilot, lambda: "● modified" in status(screen), what="modified")
        await pilot.press("escape")  # out of the id field
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="question")
        await pilot.press("escape")  # keep editing
        await wait_for(pilot, lambda: app.screen is screen, what="back")
        assert app.is_running
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: "modified" not in status(screen), what="unmodified")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="quit")


async def test_f_fits_the_workflow_to_the_view(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("admin")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_example(pilot)
        canvas = screen.query_one(DesignCanvas)
        # opened fitted: the full boxes do not fit 80x24, the one-line ones do
        await wait_for(pilot, lambda: canvas.zoom == 2, what="fitted on open")
        layout = canvas.layout_result
        assert layout is not None and layout.height <= canvas.size.height
        await pilot.press("plus")  # zoom in: too big again
        await wait_for(pilot, lambda: canvas.zoom == 1, what="zoomed in")
        await pilot.press("f")
        await wait_for(pilot, lambda: canvas.zoom == 2, what="fitted again")
        assert canvas.scroll_offset == (0, 0)


async def test_join_is_a_choice_and_the_hints_say_the_syntax_and_defaults(tui: Tui) -> None:
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await new_design(pilot)
        inspector = screen.query_one(Inspector)

        def field(key: str) -> Any:
            return next((w for w, f in inspector._fields.items() if f.key == key), None)

        await pilot.press("t")
        await wait_for(pilot, lambda: field("timeout") is not None, what="a task's fields")
        assert field("timeout").placeholder == "default 300s (e.g. 30s)"
        await pilot.press("escape", "D")
        await wait_for(pilot, lambda: field("condition") is not None, what="the decision's")
        assert field("condition").placeholder == "e.g. output.quality > 0.95"
        await pilot.press("escape", "p")
        await wait_for(pilot, lambda: isinstance(field("join"), Select), what="the join")
        join = field("join")
        assert join.value == "all"
        join.focus()
        await pilot.press("enter", "down", "enter")  # all, any, n_of_m: any
        await wait_for(
            pilot, lambda: screen.editor.node("parallel_1").get("join") == "any", what="any"
        )
