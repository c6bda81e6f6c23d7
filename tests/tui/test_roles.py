"""Roles in the app: what a role cannot do is refused with the reason, and a 403 from the
API is a message, never a crash."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from app.screens.designer import DesignerScreen
from app.screens.workflows import WorkflowsScreen
from tests.api.conftest import pipeline_spec
from tests.tui.conftest import Tui, notifications, wait_for
from tests.tui.test_designer import status

SIZE = (120, 40)


async def open_pipeline(tui: Tui, pilot: Any) -> DesignerScreen:
    """From the list, Enter on the only workflow."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, WorkflowsScreen), what="list")
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowsScreen)
    await wait_for(pilot, lambda: bool(screen.rows), what="rows")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="designer")
    designer = pilot.app.screen
    assert isinstance(designer, DesignerScreen)
    return designer


async def test_operator_cannot_save_or_create(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    app = tui.app("operator")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, WorkflowsScreen))
        role = str(pilot.app.screen.query_one("#role", Static).render())
        assert role == (
            "otto (workflow_operator) · cannot create workflows, save workflows, delete workflows"
        )
        await pilot.press("n")
        assert notifications(app)[-1] == "Operators cannot create workflows (workflow:create)"

        designer = await open_pipeline(tui, pilot)
        # The canvas says it is read-only, and why; the footer offers no save.
        main = designer.query_one("#main")
        assert main.border_subtitle == "read-only: your role cannot change workflows"
        assert "read-only: operators cannot save workflows (workflow:update)" in status(designer)
        keys = set(designer.active_bindings)
        assert "f10" not in keys and "f5" in keys
        await pilot.press("l")  # select a node, try to move it: refused, nothing changes
        before = designer.editor.to_data()
        await pilot.press("shift+down", "d", "t")
        assert designer.editor.to_data() == before
        assert notifications(app)[-1] == (
            "Read-only: operators cannot save workflows (workflow:update)."
        )
        await pilot.press("f10")
        assert isinstance(pilot.app.screen, DesignerScreen)
        assert designer.editor.version == 1


async def test_designer_cannot_run(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(tui, pilot)
        await pilot.press("f5")
        assert notifications(app)[-1] == "Designers cannot run workflows (workflow:execute)"


async def test_a_403_from_the_api_is_a_message(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    app = tui.app("operator")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.session.permissions), what="signed in")
        # The app believes it may save (a policy changed under it); the API says no.
        app.session.permissions = app.session.permissions | {"workflow:update"}
        designer = await open_pipeline(tui, pilot)
        first = designer.editor.node_ids()[0]
        designer.editor.set_property(first, "name", "Renamed")  # a change, so F10 saves
        await pilot.press("f10")
        await wait_for(pilot, lambda: any(n.startswith("Not saved:") for n in notifications(app)))
        assert "workflow:update" in notifications(app)[-1]
        assert pilot.app.screen is designer
        assert app.session.connected
