"""Pilot tests: plain jobs in the monitor (filtered, named by their handlers) and on the
Queues screen, against a real API and worker."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Select

from app.screens.designer import DesignerScreen
from app.screens.dialogs.text_input import InputDialog
from app.screens.monitor import MonitorScreen
from app.screens.queues import QueuesScreen
from app.widgets.queue_table import QueueTable
from app.widgets.runs_list import JOBS
from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import STUCK, OpsStack, wait_for

ops = ops_fixtures.ops
ops_worker = ops_fixtures.ops_worker

SIZE = (120, 40)
NOBODY = "nobodyRunsThisJob"


async def test_jobs_show_in_the_monitor_filtered_and_by_name(
    ops: OpsStack, ops_worker: Any
) -> None:
    workflow_run = await ops.start_run(STUCK)
    async with ops.client("operator") as otto:
        job = await otto.enqueue("sendNotification", {"stored_count": 1})
        chain = await otto.chain(["fetchData", "validateData"], {"records": 20})
    async with ops.app("admin").run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
        screen = pilot.app.screen
        assert isinstance(screen, MonitorScreen)
        runs = screen.runs_list
        await wait_for(pilot, lambda: runs.total == 3, what="every run")
        runs.query_one("#status-filter", Select).value = JOBS
        await wait_for(pilot, lambda: runs.total == 2, what="the jobs only")
        assert [str(k.value) for k in runs.table.rows] == [chain.id, job.id]
        assert workflow_run not in [str(k.value) for k in runs.table.rows]
        names = [str(runs.table.get_row(k)[1]) for k in runs.table.rows]
        # Their words, not the hidden workflows' ids (cut to the list's width).
        assert names[0].startswith("chain: fetc") and names[1].startswith("job: send")
        await wait_for(pilot, lambda: screen.run_id is not None, what="a job opened")
        # Promote the open job: the Designer shows its workflow under the new id, unsaved.
        runs.select_run(chain.id)
        screen.open_run(chain.id)
        await wait_for(pilot, lambda: screen.run_id == chain.id, what="the chain")
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, InputDialog), what="id")
        pilot.app.screen.query_one(Input).value = "promoted"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="designer")
        designer = pilot.app.screen
        assert isinstance(designer, DesignerScreen)
        assert designer.editor.node_ids() == ["fetchData", "validateData"]
        assert designer.editor.to_data()["id"] == "promoted"
        designer.dismiss()
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="back in the monitor")
        runs.query_one("#status-filter", Select).clear()
        await wait_for(pilot, lambda: runs.total == 3, what="every run again")


async def test_a_waiting_job_shows_on_the_queues_screen(ops: OpsStack) -> None:
    async with ops.client("operator") as otto:
        await otto.enqueue(NOBODY, {"n": 1}, priority=9)
    async with ops.app("operator", start_mode="queues").run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueuesScreen), what="queues")
        table = pilot.app.screen.query_one(QueueTable)
        await wait_for(
            pilot,
            lambda: any(r[0] == NOBODY and r[1] == "high" and r[2] == 1 for r in table.rows),
            what="the job's queue with depth 1 in the high lane",
        )
