"""Pilot tests of the Monitor against a real API, a real worker and the test Redis."""

from __future__ import annotations

from typing import Any

from textual.widgets import Button, Select

from app.live import LiveState
from app.messages import OpenRun
from app.screens.monitor import MonitorScreen
from tests.app.diamond import designer_positions, diamond_data
from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import FLAKY, ORDERS, PIPELINE, STUCK, OpsStack, asked, wait_for

ops = ops_fixtures.ops
ops_worker = ops_fixtures.ops_worker

SIZE = (120, 40)


async def _monitor(pilot: Any) -> MonitorScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
    screen = pilot.app.screen
    assert isinstance(screen, MonitorScreen)
    return screen


async def _answer(pilot: Any, screen: MonitorScreen, button: str) -> None:
    """Click ``button`` (``cancel`` keeps, ``confirm`` goes ahead) and wait for the monitor."""
    await pilot.click(f"#{button}")
    await wait_for(pilot, lambda: pilot.app.screen is screen, what="the dialog to close")


async def test_follows_example_one_to_completion(ops: OpsStack, ops_worker: Any) -> None:
    run_id = await ops.start_run(PIPELINE, {"delay_s": 0.05})
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        screen.show_run(run_id)
        await wait_for(
            pilot,
            lambda: screen.run is not None and screen.run.status == "completed"
            and screen.statuses.get("notify") == "completed",
            what="the run to complete on screen",
        )  # fmt: skip
        assert screen.statuses == {
            "fetch_data": "completed",
            "validate": "completed",
            "transform": "completed",
            "quality_check": "completed",
            "store_primary": "completed",
            "store_backup": "skipped",
            "notify": "completed",
        }
        await wait_for(
            pilot,
            lambda: "run_completed" in screen.event_log.types
            and screen.header.state is LiveState.ENDED,
            what="the end, and following it ended",
        )  # fmt: skip
        log = screen.event_log.types
        assert log[0] == "run_started"
        assert log.count("node_completed") == 6
        assert "node_skipped" in log
        assert screen.header.state is LiveState.ENDED
        assert "✓ completed" in screen.header.label
        # The operator may cancel, not retry; the run has ended so neither is offered.
        assert screen.query_one("#cancel", Button).disabled
        assert screen.query_one("#retry", Button).disabled


async def test_the_node_panel_shows_what_the_handler_logged(ops: OpsStack, ops_worker: Any) -> None:
    run_id = await ops.start_run(PIPELINE, {"quality": 0.5})
    await ops.wait_run(run_id)
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        # The list's first load done (a load still under way when the app quits fails it).
        await wait_for(pilot, lambda: screen.runs_list.total > 0, what="the runs list")
        screen.show_run(run_id)
        await wait_for(pilot, lambda: screen.statuses.get("notify") == "completed", what="run")
        screen.canvas.select("store_backup")
        await wait_for(
            pilot,
            lambda: "INFO    quality below the bar: batch-" in screen.details.text,
            what=f"the line in the node panel: {screen.details.text}",
        )
        assert "attempt 1 · ✓ completed" in screen.details.text, screen.details.text
        screen.canvas.select("fetch_data")
        await wait_for(
            pilot,
            lambda: "INFO    fetched 100 records from the demo source" in screen.details.text,
            what=f"ctx.logger's line in the node panel: {screen.details.text}",
        )
        assert "quality below the bar" not in screen.details.text  # only this node's


async def test_failing_saga_shows_compensation_path(ops: OpsStack, ops_worker: Any) -> None:
    run_id = await ops.start_run(ORDERS, {"fail_at": "ship_order"})
    async with ops.app("admin").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        screen.show_run(run_id)
        await wait_for(pilot, lambda: screen.live is not None, what="the run fetched")
        live = screen.live
        await wait_for(
            pilot,
            lambda: "run_compensated" in screen.event_log.types
            and screen.statuses.get("cancel_shipment") == "skipped",
            what="the saga to compensate",
        )  # fmt: skip
        # Fetched once when it opened: every status since came from its events.
        assert screen.live is live
        assert screen.statuses["reserve_inventory"] == "compensated"
        assert screen.statuses["charge_payment"] == "compensated"
        assert screen.statuses["ship_order"] == "failed"
        assert screen.statuses["refund_payment"] == "completed"
        assert screen.statuses["cancel_shipment"] == "skipped"
        types = screen.event_log.types
        for kind in ("run_compensating", "compensation_started", "node_compensating"):
            assert kind in types
        assert types.count("node_compensated") == 2
        # Refund before release: the saga undoes in reverse order of completion.
        undone = [n for t, n in screen.event_log.entries if t == "node_compensating"]
        assert undone == ["charge_payment", "reserve_inventory"]
        assert "compensated" in screen.header.label
        assert "carrier unavailable" in screen.header.label


async def test_cancel_a_blocked_run(ops: OpsStack) -> None:
    run_id = await ops.start_run(STUCK)
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        screen.show_run(run_id)
        await wait_for(
            pilot,
            lambda: "no live worker offers handler 'nobodyOffersThis'"
            in screen.details.text,
            what="the waiting note of the blocked node",
        )  # fmt: skip
        assert screen.statuses == {"wait_here": "queued"}
        assert not screen.query_one("#cancel", Button).disabled
        live = screen.live
        question = f"Cancel run {run_id}? Its unfinished nodes are stopped."
        await pilot.press("x")
        await asked(pilot, question, ("Keep running", "Cancel run"))
        await _answer(pilot, screen, "cancel")  # Keep running: nothing happens
        assert (await ops.get_run(run_id)).status in ("pending", "running")
        await pilot.press("x")
        await asked(pilot, question, ("Keep running", "Cancel run"))
        await _answer(pilot, screen, "confirm")
        await wait_for(
            pilot,
            lambda: screen.statuses.get("wait_here") == "cancelled"
            and "run_cancelled" in screen.event_log.types,
            what="the cancellation",
        )  # fmt: skip
        assert "⊖ cancelled" in screen.header.label
        assert screen.live is live  # no fetch since: the node_cancelled event told it
        assert "node_cancelled" in screen.event_log.types
        await wait_for(pilot, lambda: screen.query_one("#cancel", Button).disabled)
        assert "only pending or running runs" in str(screen.query_one("#cancel", Button).tooltip)


async def test_retry_from_a_node(ops: OpsStack, ops_worker: Any) -> None:
    run_id = await ops.start_run(FLAKY)
    failed = await ops.wait_run(run_id)
    assert failed.status == "failed"
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        screen.show_run(run_id)
        await wait_for(
            pilot, lambda: screen.statuses.get("flaky") == "failed", what="the failed node"
        )
        live = screen.live
        assert screen.canvas.selected == "flaky"  # the failed node is selected on opening
        assert "flaky step failed on its first call" in screen.details.text
        question = (
            f"Retry run {run_id} from flaky? flaky and the nodes after it run their handlers again."
        )
        await pilot.press("F")
        await asked(pilot, question, ("Keep as is", "Retry from node"))
        await _answer(pilot, screen, "cancel")
        assert not (await ops.get_run(run_id)).retries  # kept as is
        await pilot.press("F")
        await asked(pilot, question, ("Keep as is", "Retry from node"))
        await _answer(pilot, screen, "confirm")
        await wait_for(
            pilot,
            lambda: screen.statuses.get("finish") == "completed"
            and screen.run is not None and screen.run.status == "completed"
            # the header shows the retry count once the refresh after the events has landed
            and "retried 1x" in screen.header.label,
            what="the retried run to complete",
        )  # fmt: skip
        assert screen.statuses == {
            "prepare": "completed",
            "flaky": "completed",
            "finish": "completed",
        }
        types = screen.event_log.types
        assert types.count("run_started") == 1 and types.count("run_retried") == 1
        assert "retried 1x" in screen.header.label
        assert screen.live is live  # no fetch since: run_retried named the nodes it reset


async def test_retry_run_asks_first(ops: OpsStack, ops_worker: Any) -> None:
    run_id = await ops.start_run(FLAKY)
    assert (await ops.wait_run(run_id)).status == "failed"
    question = f"Retry run {run_id}? Its failed and compensated nodes run their handlers again."
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        screen.show_run(run_id)
        await wait_for(pilot, lambda: screen.statuses.get("flaky") == "failed", what="failure")
        await pilot.press("R")
        await asked(pilot, question, ("Keep as is", "Retry run"))
        await _answer(pilot, screen, "cancel")
        view = await ops.get_run(run_id)
        assert view.status == "failed" and not view.retries  # nothing ran again
        await pilot.press("R")
        await asked(pilot, question, ("Keep as is", "Retry run"))
        await _answer(pilot, screen, "confirm")
        await wait_for(
            pilot,
            lambda: screen.run is not None and screen.run.status == "completed"
            and "retried 1x" in screen.header.label,
            what="the retried run to complete",
        )  # fmt: skip
    view = await ops.get_run(run_id)
    assert view.status == "completed" and view.retries == 1


async def test_designer_sees_why_runs_are_hidden(ops: OpsStack) -> None:
    async with ops.app("designer").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        await pilot.pause()
        assert "designers cannot see runs (run:read)" in screen.header.label_text
        cancel = screen.query_one("#cancel", Button)
        assert cancel.disabled
        assert "designers cannot cancel or retry runs (run:cancel)" in str(cancel.tooltip)
        await pilot.press("x")
        await pilot.pause()
        assert any("run:cancel" in str(n.message) for n in pilot.app._notifications)


async def test_lost_connection_shows_and_recovers(ops: OpsStack, ops_worker: Any) -> None:
    run_id = await ops.start_run(PIPELINE, {"delay_s": 0.4})
    async with ops.app("admin").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        screen.show_run(run_id)
        await wait_for(
            pilot,
            lambda: screen.header.state is LiveState.LIVE
            and screen.statuses.get("fetch_data") == "completed",
            what="the run to be followed live",
        )  # fmt: skip
        await ops.stop_api()
        await wait_for(
            pilot, lambda: screen.header.state is LiveState.RECONNECTING, what="reconnecting"
        )
        assert "reconnecting…" in screen.header.label
        await ops.start_api()
        await wait_for(
            pilot,
            lambda: screen.statuses.get("notify") == "completed"
            and screen.header.state is LiveState.ENDED,
            timeout_s=30,
            what="the run to complete after reconnecting",
        )  # fmt: skip
        types = screen.event_log.types
        assert types.count("run_started") == 1  # nothing replayed twice
        assert types.count("node_completed") == 6
        assert types[-1] == "run_completed"


async def test_runs_list_filters_pages_and_palette(ops: OpsStack) -> None:
    stuck = [await ops.start_run(STUCK) for _ in range(3)]
    async with ops.client("operator") as otto:
        await otto.cancel_run(stuck[0])
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        runs = screen.runs_list
        await wait_for(pilot, lambda: runs.total == 3, what="the runs")
        # Newest first, and the newest is opened.
        assert list(runs.table.rows) and [str(k.value) for k in runs.table.rows] == stuck[::-1]
        await wait_for(pilot, lambda: screen.run_id == stuck[-1], what="the newest run")
        runs.query_one("#status-filter", Select).value = "cancelled"
        await wait_for(pilot, lambda: runs.total == 1, what="the filter")
        assert [str(k.value) for k in runs.table.rows] == [stuck[0]]
        runs.query_one("#status-filter", Select).clear()
        runs.page_size = 2
        screen.load_runs(0)
        await wait_for(pilot, lambda: runs.table.row_count == 2 and runs.has_more, what="page 1")
        runs.table.focus()
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: runs.page_offset == 2, what="page 2")
        # A background refresh that starts while a page is loading (it cancels that load)
        # fetches the page asked for, not the one on screen.
        screen.load_runs(0)
        await wait_for(pilot, lambda: runs.page_offset == 0, what="page 1 again")
        screen.load_runs(2)
        screen.load_runs()  # the refresh timer's call
        await wait_for(pilot, lambda: runs.page_offset == 2, what="page 2 after a refresh")
        assert [str(k.value) for k in runs.table.rows] == [stuck[0]]
        palette = {c.title: c.help for c in screen.palette_commands()}
        assert "unavailable" not in palette["Cancel run"]  # the open run is running
        assert "Retry run" in palette


async def test_a_diamond_is_drawn_as_the_designer_lays_it_out_at_80x24(
    ops: OpsStack, ops_worker: Any
) -> None:
    async with ops.client("admin") as admin:
        spec = diamond_data(
            handler="sendNotification",
            first_handler="fetchData",
            condition="output.record_count > 50",
            positions=designer_positions(),  # as the designer saves a new drawing
        )
        await admin.create_workflow(spec)
    run_id = await ops.start_run("diamond")
    async with ops.app("operator").run_test(size=(80, 24)) as pilot:
        screen = await _monitor(pilot)
        screen.show_run(run_id)
        await wait_for(
            pilot, lambda: screen.statuses.get("finish") == "completed", what="the run to end"
        )
        canvas = screen.canvas
        await wait_for(
            pilot,
            lambda: canvas.layout_result is not None and canvas.layout_result.zoom > 1,
            what="the compact zoom that fits 80x24",
        )  # fmt: skip
        layout = canvas.layout_result
        assert layout is not None and layout.explicit  # the saved drawing, not another
        boxes = layout.boxes
        # big and small side by side on one row, join under both, finish under join.
        assert boxes["big"].y == boxes["small"].y and boxes["big"].x < boxes["small"].x
        assert boxes["join"].y > boxes["big"].y and boxes["finish"].y > boxes["join"].y
        join_route = next(r for r in layout.routes if (r.source, r.target) == ("small", "join"))
        assert join_route.points[-1][1] == boxes["join"].y - 1  # small ends at join
        canvas.scroll_to_node("check")
        await pilot.pause()
        shown = "\n".join(canvas.render_line(y).text for y in range(canvas.size.height))
        assert "true" in shown and "false" in shown, shown
        assert screen.statuses == {
            "receive": "completed", "check": "completed", "big": "completed",
            "small": "skipped", "join": "completed", "finish": "completed",
        }  # fmt: skip


async def test_focus_summary_first_node_and_a_run_just_started(
    ops: OpsStack, ops_worker: Any
) -> None:
    done = await ops.start_run(PIPELINE, {"quality": 0.5})
    await ops.wait_run(done)
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        screen = await _monitor(pilot)
        runs = screen.runs_list
        # Keys go to the runs list first: up/down walk the runs at once.
        await wait_for(pilot, lambda: pilot.app.focused is runs.table, what="focus on the runs")
        await wait_for(pilot, lambda: screen.run_id == done, what="the newest run opened")
        await wait_for(pilot, lambda: screen.canvas.selected is not None, what="a node")
        assert screen.canvas.selected == "fetch_data"  # nothing failed or busy: the first node
        await wait_for(
            pilot,
            lambda: str(screen.query_one("#run-pane").border_subtitle)
            == "6 completed, 1 skipped",
            what="the run's summary line",
        )  # fmt: skip
        # A run started elsewhere in the app (the designer's run dialog posts OpenRun)
        # is the one shown, and the list's cursor moves to it once it lists it.
        started = await ops.start_run(STUCK)
        pilot.app.post_message(OpenRun(started, STUCK))
        await wait_for(
            pilot,
            lambda: screen.run_id == started and runs.highlighted == started,
            what="the run just started, selected",
        )  # fmt: skip
        await wait_for(
            pilot,
            lambda: str(screen.query_one("#run-pane").border_subtitle) == "1 queued",
            what="its summary",
        )  # fmt: skip
