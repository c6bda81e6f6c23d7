"""The monitor and a map node: its progress on the canvas and in the panel, Enter lists its
items (``f`` the failed ones); against a real API, a real worker and the test Redis."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from app.screens.monitor import MonitorScreen
from app.widgets.map_items import MapItemsDialog, progress_badge
from orchestrator.wire.runs import WorkflowRun
from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import OpsStack, example, wait_for
from tests.wire_events import event

ops = ops_fixtures.ops
ops_worker = ops_fixtures.ops_worker


def test_the_badge_keeps_the_count_last() -> None:
    assert progress_badge({"total": 100, "done": 35, "failed": 2}) == "✗2 █░░░░ 37/100"
    assert progress_badge({"total": 0, "done": 0, "failed": 0}) == "█████ 0/0"


async def test_a_maps_progress_and_its_items(ops: OpsStack, ops_worker: Any) -> None:
    async with ops.client("admin") as c:
        await c.create_workflow(example("enrich-record.yaml"))
        await c.create_workflow(example("batch-records.yaml"))
    run_id = await ops.start_run("batch-records", {"count": 12, "bad_every": 5})
    await ops.wait_run(run_id)
    async with ops.app("operator").run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
        screen = pilot.app.screen
        assert isinstance(screen, MonitorScreen)
        await wait_for(pilot, lambda: screen.runs_list.total > 0, what="the runs list")
        screen.show_run(run_id)
        await wait_for(pilot, lambda: screen.statuses.get("done") == "completed", what="the run")
        badge = "✗2 █████ 12/12"
        assert screen.canvas._badges == {"per_record": badge}

        def canvas_text() -> str:
            lines = (screen.canvas.render_line(y) for y in range(screen.canvas.size.height))
            return "\n".join("".join(seg.text for seg in line) for line in lines)

        screen.canvas.zoom = 1  # boxes with borders: the badge sits on the bottom one
        await wait_for(pilot, lambda: "12/12" in canvas_text(), what="the badge drawn")
        screen.canvas.select("per_record")
        await wait_for(
            pilot,
            lambda: "12/12 (2 failed, 0 in flight)" in screen.details.text,
            what="the node panel's counts",
        )
        screen.canvas.focus()
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, MapItemsDialog), what="the items dialog"
        )
        dialog = pilot.app.screen
        table: DataTable[Any] = dialog.query_one("#items", DataTable)
        await wait_for(pilot, lambda: table.row_count == 12, what="the items")
        await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 2, what="the failed items")
        hint = str(dialog.query_one("#items-hint", Static).render())
        assert "of 2 failed items" in hint
        assert "sub-workflow run" in str(table.get_row_at(0)[3])
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="the monitor again")


async def test_enter_on_a_subworkflow_opens_the_child_and_u_its_parent(
    ops: OpsStack, ops_worker: Any
) -> None:
    parent_spec = {
        "id": "one-record",
        "name": "one-record",
        "nodes": [
            {"id": "enrich", "type": "subworkflow", "workflow": "enrich-record",
             "params": {"record": "params.record"}},
        ],
        "parameters": {"record": {"type": "object", "default": {"id": 3}}},
    }  # fmt: skip
    async with ops.client("admin") as c:
        await c.create_workflow(example("enrich-record.yaml"))
        await c.create_workflow(parent_spec)
    run_id = await ops.start_run("one-record", {})
    done = await ops.wait_run(run_id)
    child_id = done.nodes["enrich"].childRunId
    async with ops.app("operator").run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
        screen = pilot.app.screen
        assert isinstance(screen, MonitorScreen)
        await wait_for(pilot, lambda: screen.runs_list.total > 0, what="the runs list")
        screen.show_run(run_id)
        await wait_for(pilot, lambda: screen.statuses.get("enrich") == "completed", what="run")
        screen.canvas.select("enrich")
        screen.canvas.focus()
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: screen.run_id == child_id and screen.statuses.get("score") == "completed",
            what="the child run",
        )
        assert f"sub-workflow of {run_id} (enrich)" in screen.header.label
        await pilot.press("u")
        await wait_for(pilot, lambda: screen.run_id == run_id, what="the parent run again")


def test_item_events_move_a_maps_counts_without_a_fetch() -> None:
    from app.run_state import LiveRun

    live = LiveRun.of(
        WorkflowRun.model_validate(
            {"id": "r", "runId": "r", "workflowId": "w", "workflowVersion": 1, "priority": 5,
             "status": "running", "startTime": "2026-01-15T09:30:00Z", "context": {},
             "parameters": {}, "nodes": {"m": {"nodeId": "m", "status": "running", "attempts": 1}}}
        )
    )  # fmt: skip
    change = live.apply(event("item_failed", "m", {"index": 3, "done": 4, "failed": 1, "total": 9}))
    assert "m" in change.nodes
    node = live.node("m")
    assert node is not None and node.progress is not None
    assert progress_badge(node.progress) == "✗1 ██░░░ 5/9"
