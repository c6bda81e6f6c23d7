"""Pilot tests of what the Designer calls modified, and of saving nothing new."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from app.screens.designer import DesignerScreen
from tests.api.conftest import pipeline_spec
from tests.tui.conftest import Tui, notifications, type_text, wait_for
from tests.tui.test_designer import designer_of, status
from tests.tui.test_workflows_screen import listed

SIZE = (120, 40)
NO_CHANGES = "Save: No changes: nothing saved."


async def versions(tui: Tui) -> list[int]:
    """The stored versions of ``pipeline``, as the API lists them."""
    async with tui.client() as client:
        return sorted(int(v.version) for v in await client.list_versions("pipeline"))


async def delete(pilot: Any, screen: DesignerScreen, node_id: str) -> None:
    """Select ``node_id`` with the go-to dialog, then delete it."""
    await pilot.press("g")
    await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="go-to dialog")
    await type_text(pilot, node_id)
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.canvas.selected == node_id, what=f"{node_id} selected")
    await pilot.press("d")


async def test_undo_back_is_unmodified_and_an_unchanged_save_stores_nothing(tui: Tui) -> None:
    async with tui.client() as client:
        await client.create_workflow(pipeline_spec())
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot)
        await pilot.press("enter")  # open the only workflow
        screen = await designer_of(pilot)
        assert "modified" not in status(screen)

        await delete(pilot, screen, "store")
        assert "store" not in screen.editor.node_ids()
        assert "● modified" in status(screen)
        await pilot.press("ctrl+z")  # back to what was loaded: not modified
        assert screen.editor.node_ids() == ["fetch", "transform", "store"]
        assert "modified" not in status(screen)

        await pilot.press("f10")  # nothing changed: says so and stores nothing
        await wait_for(pilot, lambda: NO_CHANGES in notifications(app), what="the no-op note")
        assert await versions(tui) == [1]

        await pilot.press("ctrl+y")  # a real change is saved as version 2...
        assert "● modified" in status(screen)
        await pilot.press("f10")
        await wait_for(pilot, lambda: screen.editor.version == 2, what="version 2")
        assert "modified" not in status(screen)
        assert await versions(tui) == [1, 2]
        await pilot.press("ctrl+z")  # ...after which the loaded state is the changed one
        assert "● modified" in status(screen)
        await pilot.press("ctrl+y")
        assert "modified" not in status(screen)
        await pilot.press("f10")
        await wait_for(
            pilot, lambda: notifications(app).count(NO_CHANGES) == 2, what="the second no-op"
        )
        assert await versions(tui) == [1, 2]
