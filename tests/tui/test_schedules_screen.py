"""Pilot tests of the Schedules screen and the Workflows screen's schedule line (real API)."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Input, Static

from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.schedules import SchedulesScreen
from app.screens.workflows import WorkflowsScreen
from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import PIPELINE, STUCK, OpsStack, wait_for

ops = ops_fixtures.ops

SIZE = (120, 40)


async def _schedules(ops: OpsStack) -> None:
    async with ops.client("admin") as c:
        await c.create_schedule(
            {"id": "nightly", "workflowId": PIPELINE, "cron": "0 2 * * *",
             "timezone": "Europe/Berlin"}
        )  # fmt: skip
        await c.create_schedule({"id": "stuck-hourly", "workflowId": STUCK, "every": "1h"})


def _text(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def _workflows(pilot: Any) -> WorkflowsScreen:
    """The Workflows screen once its four workflows are listed."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, WorkflowsScreen), what="list")
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowsScreen)
    await wait_for(pilot, lambda: len(screen.rows) == 4, what="rows")
    return screen


async def test_pause_resume_and_trigger_from_the_screen(ops: OpsStack) -> None:
    await _schedules(ops)
    async with ops.app("admin", start_mode="schedules").run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SchedulesScreen), what="screen")
        screen = pilot.app.screen
        assert isinstance(screen, SchedulesScreen)
        await wait_for(pilot, lambda: len(screen.schedules) == 2, what="two schedules")
        table = screen.query_one(DataTable)
        assert [str(table.get_row_at(i)[0]) for i in range(2)] == ["nightly", "stuck-hourly"]
        assert str(table.get_row_at(0)[2]) == "cron 0 2 * * * Europe/Berlin"
        await wait_for(
            pilot, lambda: screen.detail is not None and len(screen.detail.nextFires) == 5,
            what="the next fires",
        )  # fmt: skip
        assert "next fires: 20" in _text(screen, "#schedule-body")

        table.focus()
        await pilot.press("p")
        await wait_for(
            pilot, lambda: bool(pilot.app.screen.query("#value")), what="the note dialog"
        )
        pilot.app.screen.query_one("#value", Input).value = "warehouse migration"
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: str(table.get_row_at(0)[3]) == "paused", what="paused in the table"
        )
        await wait_for(
            pilot, lambda: "paused: warehouse migration" in _text(screen, "#schedule-body"),
            what="the note",
        )  # fmt: skip
        await pilot.press("r")
        await wait_for(pilot, lambda: str(table.get_row_at(0)[3]) == "active", what="resumed")
        await pilot.press("t")
        await wait_for(
            pilot, lambda: str(table.get_row_at(0)[5]).startswith("triggered run-"),
            what="the triggered run as last outcome",
        )  # fmt: skip


async def test_operators_trigger_but_cannot_pause(ops: OpsStack) -> None:
    await _schedules(ops)
    async with ops.app("operator", start_mode="schedules").run_test(
        size=SIZE, notifications=True
    ) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SchedulesScreen), what="screen")
        screen = pilot.app.screen
        assert isinstance(screen, SchedulesScreen)
        await wait_for(pilot, lambda: len(screen.schedules) == 2, what="two schedules")
        assert "p pause (not available" in _text(screen, "#schedule-note")
        screen.query_one(DataTable).focus()
        await pilot.press("p")
        await wait_for(
            pilot,
            lambda: any("cannot change schedules" in str(n.message)
                        for n in pilot.app._notifications),
            what="the refusal",
        )  # fmt: skip
        await pilot.press("t")
        table = screen.query_one(DataTable)
        await wait_for(
            pilot, lambda: str(table.get_row_at(0)[5]).startswith("triggered"), what="trigger"
        )


async def test_the_workflows_screen_shows_a_workflows_schedules(ops: OpsStack) -> None:
    await _schedules(ops)
    async with ops.app("designer", start_mode="workflows").run_test(size=SIZE) as pilot:
        screen = await _workflows(pilot)
        ids = [r.id for r in screen.rows]
        table = screen.query_one("#list", DataTable)
        table.focus()
        table.move_cursor(row=ids.index(PIPELINE))
        line = screen.query_one("#schedules", Static)
        await wait_for(
            pilot, lambda: line.display and "nightly" in _text(screen, "#schedules"),
            what="the pipeline's schedule line",
        )  # fmt: skip
        assert _text(screen, "#schedules").startswith(
            "schedules: nightly (cron 0 2 * * * Europe/Berlin, next 20"
        )
        table.move_cursor(row=ids.index(STUCK))
        stuck_line = "schedules: stuck-hourly (every 1h"
        await wait_for(
            pilot, lambda: _text(screen, "#schedules").startswith(stuck_line),
            what="the stuck workflow's schedule line",
        )  # fmt: skip
        others = [i for i, wid in enumerate(ids) if wid not in (PIPELINE, STUCK)]
        table.move_cursor(row=others[0])
        await wait_for(pilot, lambda: not line.display, what="no line without schedules")


async def test_deleting_a_scheduled_workflow_asks_again_and_takes_its_schedules(
    ops: OpsStack,
) -> None:
    await _schedules(ops)
    async with ops.app("designer", start_mode="workflows").run_test(size=SIZE) as pilot:
        screen = await _workflows(pilot)
        table = screen.query_one("#list", DataTable)
        table.focus()
        table.move_cursor(row=[r.id for r in screen.rows].index(PIPELINE))
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="ask")
        await pilot.press("y")
        # Refused by the API (a schedule starts it): the second question lists it.
        await wait_for(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, ConfirmDialog)
                and "schedules (1): nightly" in pilot.app.screen.question
            ),
            what="the second question, naming the schedule",
        )
        await pilot.press("y")
        await wait_for(pilot, lambda: PIPELINE not in [r.id for r in screen.rows], what="deleted")
    async with ops.client("admin") as c:
        assert [s.id for s in await c.list_schedules()] == ["stuck-hourly"]
