"""Pilot tests of the Queues and Admin screens against a real API on the test Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import Button, Input, Select, Static

from app.screens.admin import AdminScreen
from app.screens.queues import QueuesScreen
from app.widgets.audit_log import AuditLog
from app.widgets.policy_status import PolicyStatus
from app.widgets.queue_table import QueueTable
from app.widgets.users_table import UsersTable
from app.widgets.workers_table import WorkersTable
from orchestrator.errors import Forbidden
from orchestrator.security.audit import OUTCOMES
from orchestrator.security.audit import AuditLog as AuditTrail
from orchestrator.store.queue import JobQueue
from orchestrator.vocab import AuditOutcome
from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import STUCK, OpsStack, asked, wait_for

ops = ops_fixtures.ops
ops_worker = ops_fixtures.ops_worker

SIZE = (120, 40)
HANDLER = "nobodyOffersThis"


async def _screen(pilot: Any, cls: type) -> Any:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, cls), what=cls.__name__)
    return pilot.app.screen


async def _dead_letter_the_stuck_job(ops: OpsStack) -> None:
    """Deliver the stuck run's job to a consumer that never answers, then let it wear out."""
    settings = ops.settings.model_copy(
        update={
            "queue": ops.settings.queue.model_copy(
                update={"visibility_timeout": 0.05, "max_deliveries": 1}
            )
        }
    )
    queue = JobQueue(ops.conn.redis, ops.conn.keys, settings)
    assert await queue.read([HANDLER], "ghost", 1)
    for _ in range(200):
        await queue.reclaim("janitor", [HANDLER])
        if await queue.dead_letters():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the job never reached the dead-letter stream")


async def test_queues_show_depths_workers_and_requeue_then_purge(
    ops: OpsStack, ops_worker: Any
) -> None:
    run_id = await ops.start_run(STUCK)
    async with ops.app("admin", start_mode="queues").run_test(size=SIZE) as pilot:
        screen: QueuesScreen = await _screen(pilot, QueuesScreen)
        table = screen.query_one(QueueTable)
        await wait_for(
            pilot, lambda: any(r[0] == HANDLER and r[2] == 1 for r in table.rows), what="depth"
        )
        workers = screen.query_one(WorkersTable)
        assert workers.worker_ids == [ops_worker.worker_id]
        assert screen.query_one("#requeue", Button).disabled  # nothing to requeue yet

        await _dead_letter_the_stuck_job(ops)
        letters = screen.dead_letters
        await wait_for(pilot, lambda: len(letters.letters) == 1, what="the dead letter")
        [letter] = letters.letters.values()
        assert (letter.runId, letter.nodeId, letter.handler) == (
            run_id, "wait_here", HANDLER
        )  # fmt: skip
        # The count comes from GET /queues, which may have answered before the letter moved.
        pane = screen.query_one("#dead-pane")
        await wait_for(pilot, lambda: "Dead letters (1)" in str(pane.border_title), what="count")
        letters.focus()
        await pilot.press("space")  # mark it
        assert letters.marked
        requeue = "Requeue 1 dead letter(s)? Their handlers run again."
        await pilot.press("r")
        await asked(pilot, requeue, ("Keep as is", "Requeue"))
        await pilot.click("#cancel")  # Keep as is: the letter stays
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="the dialog to close")
        assert len(letters.letters) == 1
        assert len(await JobQueue(ops.conn.redis, ops.conn.keys, ops.settings).dead_letters()) == 1
        await pilot.press("r")
        await asked(pilot, requeue, ("Keep as is", "Requeue"))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: not letters.letters, what="the requeue")
        await wait_for(
            pilot, lambda: any(r[0] == HANDLER and r[2] == 1 for r in table.rows), what="back"
        )

        await _dead_letter_the_stuck_job(ops)
        await wait_for(pilot, lambda: len(letters.letters) == 1, what="a dead letter again")
        purge = "Purge 1 dead letter(s)? Their attempts fail (the runs move on or fail)."
        await pilot.press("p")
        await asked(pilot, purge, ("Keep as is", "Purge"))
        await pilot.click("#cancel")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="the dialog to close")
        assert len(letters.letters) == 1
        assert (await ops.get_run(run_id)).status == "running"  # not failed: kept
        await pilot.press("p")
        await asked(pilot, purge, ("Keep as is", "Purge"))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: not letters.letters, what="the purge")
    failed = await ops.wait_run(run_id)
    assert failed.status == "failed"  # a purged letter fails its attempt
    assert "purged" in (failed.nodes["wait_here"].lastError or "")


async def test_operator_sees_dead_letter_actions_disabled(ops: OpsStack) -> None:
    async with ops.app("operator", start_mode="queues").run_test(size=SIZE) as pilot:
        screen: QueuesScreen = await _screen(pilot, QueuesScreen)
        await wait_for(pilot, lambda: screen.queues is not None, what="the queues")
        reason = "operators cannot administer the system (system:configure)"
        for button_id in ("#requeue", "#purge"):
            button = screen.query_one(button_id, Button)
            assert button.disabled and str(button.tooltip) == reason
        assert reason in str(screen.dead_letters.message)
        assert reason in str(screen.query_one("#dead-note", Static).render())
        await pilot.press("p")
        await pilot.pause()
        assert pilot.app.screen is screen  # no confirmation: it was refused with the reason
        assert any(reason in str(n.message) for n in pilot.app._notifications)


async def test_admin_sees_users_policy_and_filters_the_audit_log(ops: OpsStack) -> None:
    async with ops.client("operator") as otto:
        try:
            await otto.create_workflow(ops_fixtures.stuck_spec() | {"id": "nope"})
        except Forbidden:
            pass  # what we wanted: a denied request in the audit log
        else:
            raise AssertionError("an operator could create a workflow")
    async with ops.app("admin", start_mode="admin").run_test(size=SIZE) as pilot:
        screen: AdminScreen = await _screen(pilot, AdminScreen)
        users = screen.query_one(UsersTable)
        await wait_for(pilot, lambda: users.names == ["ada", "dee", "otto"], what="the users")
        policy = screen.query_one(PolicyStatus)
        await wait_for(pilot, lambda: policy.status is not None, what="the policy status")
        assert "✓ policy loaded" in str(policy.render())
        audit = screen.audit_log
        await wait_for(pilot, lambda: bool(audit.entries), what="audit entries")
        assert {e.action for e in audit.entries} >= {"createWorkflow"}
        times = [e.id for e in audit.entries]
        assert times == sorted(times, reverse=True)  # newest first

        await pilot.press("slash")
        assert isinstance(pilot.app.focused, Input)
        await pilot.press(*"otto", "enter")
        await wait_for(
            pilot,
            lambda: audit.user == "otto" and bool(audit.entries)
            and all(e.user == "otto" for e in audit.entries),
            what="otto's entries",
        )  # fmt: skip
        denied = [e for e in audit.entries if e.outcome == "denied"]
        assert denied and denied[0].action == "createWorkflow"
        viewer = screen.query_one(AuditLog)
        viewer.query_one("#audit-outcome").value = "allowed"  # type: ignore[attr-defined]
        await wait_for(
            pilot,
            lambda: audit.outcome == "allowed" and all(
                e.outcome == "allowed" and e.user == "otto" for e in audit.entries
            ),
            what="otto's allowed entries",
        )  # fmt: skip


async def test_admin_filter_finds_interrupted_changes(ops: OpsStack) -> None:
    # A change whose writer died mid-way is on record as ``interrupted``: an admin can find it.
    trail = AuditTrail(ops.conn.redis, ops.conn.keys, path=None, source="cli")
    await trail.record(
        user="root", role="admin", action="addUser", resource="user:mallory",
        outcome=AuditOutcome.INTERRUPTED, request_id="cli-1", detail="the process died",
    )  # fmt: skip
    async with ops.app("admin", start_mode="admin").run_test(size=SIZE) as pilot:
        screen: AdminScreen = await _screen(pilot, AdminScreen)
        viewer = screen.query_one(AuditLog)
        choice = viewer.query_one("#audit-outcome", Select)
        assert [value for _, value in choice._options[1:]] == list(OUTCOMES)
        choice.value = "interrupted"
        await wait_for(
            pilot,
            lambda: viewer.outcome == "interrupted" and [
                (e.user, e.action, e.outcome) for e in viewer.entries
            ] == [("root", "addUser", "interrupted")],
            what="the interrupted change",
        )  # fmt: skip


async def test_admin_screen_is_for_admins_only(ops: OpsStack) -> None:
    async with ops.app("operator", start_mode="admin").run_test(size=SIZE) as pilot:
        screen: AdminScreen = await _screen(pilot, AdminScreen)
        await pilot.pause()
        text = str(screen.query_one("#admins-only-message", Static).render())
        assert "Admins only: operators cannot administer the system (system:configure)" in text
        assert not screen.query(UsersTable)
