"""Approvals in the TUI: the monitor shows a waiting approval and decides it (``a``/``r``
with a comment), sends a signal with a JSON payload (``s``); the Approvals screen lists
what waits for the user; the title counts it on every screen.  A real API and worker."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from app.screens.approval_actions import CommentDialog
from app.screens.approvals import ApprovalsScreen
from app.screens.dialogs.text_input import InputDialog
from app.screens.monitor import MonitorScreen
from app.widgets.node_details import describe_node
from tests.conftest import until
from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import OpsStack, example, wait_for

ops = ops_fixtures.ops
ops_worker = ops_fixtures.ops_worker
SIZE = (120, 40)


def _text(renderable: Any) -> str:
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(renderable)
    return console.export_text()


async def _refund_run(ops: OpsStack) -> str:
    async with ops.client("admin") as c:
        await c.create_workflow(example("refund-approval.yaml"))
    run_id = await ops.start_run("refund-approval", {"customer": "ada", "amount": 120})

    async def waiting() -> bool:
        view = await ops.get_run(run_id)
        return bool(view.nodes["manager_ok"].status == "waiting")

    await until(waiting, "the approval to wait")
    return run_id


async def _type(pilot: Any, text: str) -> None:
    dialog = pilot.app.screen
    dialog.query_one(Input).value = text
    await pilot.press("enter")


async def test_the_monitor_decides_and_signals(ops: OpsStack, ops_worker: Any) -> None:
    run_id = await _refund_run(ops)
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
        screen = pilot.app.screen
        assert isinstance(screen, MonitorScreen)
        screen.show_run(run_id)
        await wait_for(
            pilot,
            lambda: screen.run is not None and screen.run.nodes["manager_ok"].approval is not None,
            what="the waiting approval",
        )
        assert screen.run is not None
        panel = _text(describe_node(screen.run.nodes["manager_ok"], kind="approval"))
        assert "Refund 120 EUR to ada? Risk: low" in panel
        assert "role workflow_operator, workflow_admin" in panel
        assert "0 of 1" in panel and "deadline" in panel
        await wait_for(pilot, lambda: "☑ 1 approval waiting" in pilot.app.title, what="badge")
        await pilot.press("r")  # reject needs a comment: an empty one is refused
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommentDialog), what="dialog")
        await pilot.press("escape")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommentDialog), what="dialog")
        await _type(pilot, "known customer")
        await wait_for(
            pilot,
            lambda: screen.statuses.get("bank_ok") == "waiting",
            what="the approval to pass and the signal to wait",
        )
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, InputDialog), what="name")
        assert pilot.app.screen.query_one(Input).value == "refund_settled"
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, InputDialog)
            and pilot.app.screen.query_one(Input).value == "{}",
            what="the payload dialog",
        )  # fmt: skip
        await _type(pilot, '{"settled_at": "today"}')
        await wait_for(pilot, lambda: screen.statuses.get("tell_customer") == "completed",
                       what="the run to finish")  # fmt: skip
        await wait_for(pilot, lambda: pilot.app.title == "dagq", what="the badge to clear")
    final = await ops.get_run(run_id)
    [decision] = (final.nodes["manager_ok"].output or {})["decisions"]
    assert decision["comment"] == "known customer"
    assert final.nodes["bank_ok"].output == {"settled_at": "today"}


async def test_the_approvals_screen_lists_and_decides(ops: OpsStack, ops_worker: Any) -> None:
    run_id = await _refund_run(ops)
    async with ops.app("operator", start_mode="approvals").run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ApprovalsScreen), what="the screen"
        )
        screen = pilot.app.screen
        assert isinstance(screen, ApprovalsScreen)
        await wait_for(pilot, lambda: len(screen.rows) == 1, what="the waiting approval")
        assert screen.rows[0].runId == run_id
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommentDialog), what="dialog")
        await _type(pilot, "")
        assert isinstance(pilot.app.screen, CommentDialog)  # a rejection needs its reason
        await _type(pilot, "not this time")
        await wait_for(pilot, lambda: screen.rows == [], what="the list to empty")
    final = await ops.wait_run(run_id)
    assert (final.nodes["decline"].output or {})["reason"] == "not this time"


async def test_a_designer_cannot_decide(ops: OpsStack, ops_worker: Any) -> None:
    await _refund_run(ops)
    async with ops.app("designer", start_mode="approvals").run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ApprovalsScreen), what="the screen"
        )
        screen = pilot.app.screen
        assert isinstance(screen, ApprovalsScreen)
        await pilot.press("a")
        assert not isinstance(pilot.app.screen, CommentDialog)


async def test_the_count_shows_on_the_workflows_screen(ops: OpsStack, ops_worker: Any) -> None:
    await _refund_run(ops)
    async with ops.app("operator", start_mode="workflows").run_test(size=SIZE) as pilot:
        from app.widgets.mode_bar import ModeBar

        def bar_says() -> bool:
            bars = list(pilot.app.screen.query(ModeBar))
            return bool(bars) and "6 Approvals ☑1" in str(bars[0].render())

        await wait_for(pilot, bar_says, what="the count in the mode bar")
        await pilot.press("6")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, ApprovalsScreen), what="approvals"
        )
