"""Pilot tests of the Designer against a real API, a real worker and the test Redis."""

from __future__ import annotations

import functools
from typing import Any

from textual.widgets import Input

from app.screens.designer import DesignerScreen
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.dialogs.run_params import RunParametersDialog
from app.screens.workflows import WorkflowsScreen
from app.widgets.status_line import StatusLine
from orchestrator.worker.worker import Worker
from tests.tui.conftest import Tui, notifications, type_text, wait_for

SIZE = (120, 40)
EXAMPLE_1 = [
    # (palette letter, id, then the fields after the id in order: name, handler/condition...);
    # a handler is typed up to where the live workers' names complete it (right accepts).
    ("t", "fetch_data", ["", "f", "60s"]),
    ("t", "validate", ["", "v", "", "2"]),
    ("t", "transform", ["", "t"]),
    ("d", "quality_check", ["", "output.quality > 0.95"]),
    ("t", "store_primary", ["", "storeP"]),
    ("t", "store_backup", ["", "storeB"]),
    ("t", "notify", ["", "se"]),
]
EXAMPLE_1_EDGES = [
    # by the shortest prefix the goto dialog accepts
    ("f", "v"),
    ("v", "t"),
    ("t", "q"),
    ("q", "store_p"),  # the decision's first edge: true
    ("q", "store_b"),  # its second: false
    ("store_p", "n"),
    ("store_b", "n"),
]
HANDLERS = {
    "fetch_data": "fetchData",
    "validate": "validateData",
    "transform": "transformData",
    "store_primary": "storePrimary",
    "store_backup": "storeBackup",
    "notify": "sendNotification",
}


async def designer_of(pilot: Any) -> DesignerScreen:
    """The Designer, once it is the active screen."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="designer")
    screen = pilot.app.screen
    assert isinstance(screen, DesignerScreen)
    return screen


async def workflows_of(pilot: Any) -> WorkflowsScreen:
    """The Workflows screen, once it is the active screen."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, WorkflowsScreen), what="list")
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowsScreen)
    return screen


def status(screen: DesignerScreen) -> str:
    """The status line's text."""
    return str(screen.query_one(StatusLine).render())


async def add_node(
    pilot: Any, screen: DesignerScreen, letter: str, node_id: str, fields: list[str]
) -> None:
    """``n``, the type's letter, then type the id and each field (Enter after each)."""
    await pilot.press("n", letter)
    await wait_for(
        pilot,
        lambda: isinstance(pilot.app.focused, Input),
        what=f"the id field {screen.editor.node_ids()} {pilot.app.focused}",
    )
    for i, text in enumerate((node_id, *fields)):
        # the handler field (third): accept the suggestion of a live worker's handler
        accept = ["right"] if i == 2 and letter == "t" else []
        await type_text(pilot, text)
        if accept:  # the suggestion comes from a Textual worker (and the workers' names)
            await wait_for(pilot, functools.partial(suggested, pilot, text), what=f"{text}…")
        await pilot.press(*accept, "enter")
    if isinstance(pilot.app.focused, Input):
        await pilot.press("escape")
    await wait_for(pilot, lambda: screen.canvas.selected == node_id, what=f"{node_id} selected")


def suggested(pilot: Any, typed: str) -> bool:
    """Whether the focused input shows a completion of ``typed`` that ``right`` accepts."""
    focused = pilot.app.focused
    if not isinstance(focused, Input):
        return False
    suggestion = str(focused._suggestion)  # what the Input draws after the cursor
    return focused.value == typed and suggestion.startswith(typed) and suggestion != typed


async def goto(pilot: Any, screen: DesignerScreen, prefix: str) -> None:
    """``g``, the start of the node's id, Enter: select it by keyboard."""
    await pilot.press("g")
    await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="goto dialog")
    await type_text(pilot, prefix)
    await pilot.press("enter")
    await wait_for(
        pilot, lambda: (screen.canvas.selected or "").startswith(prefix), what=f"goto {prefix}"
    )


async def connect(pilot: Any, screen: DesignerScreen, source: str, target: str) -> None:
    """Select the source, ``c``, select the target, ``c``."""
    count = len(screen.editor.edges)
    await goto(pilot, screen, source)
    await pilot.press("c")
    await goto(pilot, screen, target)
    await pilot.press("c")
    await wait_for(pilot, lambda: len(screen.editor.edges) == count + 1, what="connected")


async def test_build_example_one_by_keyboard_save_and_run(tui: Tui, worker: Worker) -> None:
    app = tui.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await workflows_of(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="name dialog")
        await type_text(pilot, "Data Processing Pipeline")
        await pilot.press("enter")
        screen = await designer_of(pilot)
        assert "Nodes: 0  Edges: 0" in status(screen)
        for letter, node_id, fields in EXAMPLE_1:
            await add_node(pilot, screen, letter, node_id, fields)
        for source, target in EXAMPLE_1_EDGES:
            await connect(pilot, screen, source, target)
        edges = {(e["source"], e["target"], e.get("condition")) for e in screen.editor.edges}
        assert ("quality_check", "store_primary", True) in edges
        assert ("quality_check", "store_backup", False) in edges
        assert {n: screen.editor.node(n).get("handler") for n in HANDLERS} == HANDLERS

        await pilot.press("f2")
        assert "Valid ✓" in notifications(app)[-1]
        assert status(screen).startswith("Status: Valid ✓  Nodes: 7  Edges: 7")

        await pilot.press("f10")
        await wait_for(pilot, lambda: not screen.editor.dirty, what="saved")
        assert screen.editor.workflow_id == "data-processing-pipeline"

        await pilot.press("f5")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, RunParametersDialog), what="run dialog"
        )
        await pilot.press("ctrl+r")  # the run dialog (no parameters declared): Run
        await wait_for(pilot, lambda: app.current_mode == "monitor", what="monitor mode")

    async with tui.client() as client:
        stored = await client.get_workflow("data-processing-pipeline")
        spec = stored.spec()
        assert (len(spec["nodes"]), len(spec["edges"])) == (7, 7)
        assert all("position" in n for n in spec["nodes"])  # positions saved with the spec
        run_id = (await client.list_runs("data-processing-pipeline")).items[0].runId
        async for _ in client.stream_run_events(run_id):
            pass  # the stream ends with the run
        assert (await client.get_run_status(run_id)).status == "completed"


async def test_inline_checks_undo_redo_delete_and_palette(tui: Tui) -> None:
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        await workflows_of(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="name dialog")
        await type_text(pilot, "Checks")
        await pilot.press("enter")
        screen = await designer_of(pilot)
        await pilot.press("n", "w")  # a delay node: id, name, duration, cron
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="the id field")
        assert screen.editor.node("delay_1")["duration"] == "1m"
        await pilot.press("enter", "enter")  # keep the id and the empty name
        await type_text(pilot, "soon")
        await pilot.press("enter")  # refused: the problem shows under the field
        problems = [str(s.render()) for s in screen.query(".problem") if s.display]
        assert problems == ["'soon' is not a duration; write e.g. 300ms, 60s, 1m30s or 2h"]
        assert screen.editor.node("delay_1")["duration"] == "1m"
        focused = pilot.app.focused
        assert isinstance(focused, Input)
        focused.value = ""
        await type_text(pilot, "90s")
        await pilot.press("enter")
        await type_text(pilot, "0 9 * * 1")  # both duration and cron: the validator objects
        await pilot.press("enter")
        assert screen.editor.node("delay_1")["cron"] == "0 9 * * 1"
        assert "1 error ✗" in status(screen)
        await pilot.press("e")
        assert "exactly one of duration or cron" in notifications(app)[-1]

        await pilot.press("ctrl+z")  # the cron goes again
        assert "cron" not in screen.editor.node("delay_1")
        assert status(screen).startswith("Status: Valid ✓  Nodes: 1  Edges: 0")
        await pilot.press("ctrl+y")
        assert screen.editor.node("delay_1")["cron"] == "0 9 * * 1"

        await pilot.press("d")
        assert screen.editor.node_ids() == []
        await pilot.press("ctrl+z")
        assert screen.editor.node_ids() == ["delay_1"]

        titles = {c.title for c in app.get_system_commands(pilot.app.screen)}
        assert {"Add node", "Connect", "Validate", "Save", "Run", "Simulate", "Undo"} <= titles
        assert {"Go to Monitor", "Help"} <= titles

        await pilot.press("escape")  # unsaved: asks first
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, DesignerScreen))
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("tab", "enter")  # Discard
        await workflows_of(pilot)
