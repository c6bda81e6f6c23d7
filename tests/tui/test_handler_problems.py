"""The designer's Problems warns of a handler no live worker offers (issue 12, item 2):
a misspelt ``valdiateData`` is valid YAML and a valid graph, but its runs would wait forever.
"""

from __future__ import annotations

from textual.widgets import DataTable

from app.screens.designer import DesignerScreen
from app.screens.workflows import WorkflowsScreen
from app.widgets.validation_panel import ValidationPanel
from orchestrator.worker.worker import Worker
from tests.tui.conftest import Tui, notifications, wait_for

SIZE = (120, 40)
WARNING = (
    "! node 'check' uses handler 'valdiateData', which no live worker offers; "
    "did you mean validateData?"
)
TYPO = {
    "id": "typo",
    "name": "Typo",
    "nodes": [
        {"id": "fetch", "type": "task", "handler": "fetchData"},
        {"id": "check", "type": "task", "handler": "valdiateData"},
    ],
    "edges": [{"source": "fetch", "target": "check"}],
}


def problems(panel: ValidationPanel) -> list[str]:
    """The lines Problems shows."""
    return [str(panel.get_option_at_index(i).prompt) for i in range(panel.option_count)]


async def test_problems_warns_of_a_handler_no_live_worker_offers(tui: Tui, worker: Worker) -> None:
    async with tui.client("designer") as c:
        await c.create_workflow(TYPO)
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WorkflowsScreen), what="list")
        listing = app.screen
        assert isinstance(listing, WorkflowsScreen)
        await wait_for(pilot, lambda: bool(listing.rows), what="rows")
        listing.query_one(DataTable).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DesignerScreen), what="designer")
        screen = app.screen
        assert isinstance(screen, DesignerScreen)
        panel = screen.query_one(ValidationPanel)
        await wait_for(pilot, lambda: WARNING in problems(panel), what=f"{problems(panel)}")
        assert problems(panel) == [WARNING]  # fetchData is offered: no warning for it
        assert screen.result.valid  # a warning, not an error: the design may still be saved

        await pilot.press("f2")
        await wait_for(pilot, lambda: any("Valid ✓ (1 warnings)" in n for n in notifications(app)))
        panel.focus()
        await pilot.press("down", "enter")  # choosing the warning selects its node
        await wait_for(pilot, lambda: screen.canvas.selected == "check", what="check selected")
