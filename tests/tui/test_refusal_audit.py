"""A refusal made in the app from its cached permissions reaches the server's audit trail,
and a stale cache is refreshed (the user is asked to try again, nothing is performed)."""

from __future__ import annotations

from typing import Any

from app.screens.monitor import MonitorScreen
from orchestrator.wire.ops import AuditEntry
from tests.api.conftest import pipeline_spec
from tests.conftest import until
from tests.tui import ops_fixtures
from tests.tui.conftest import Tui, notifications, wait_for
from tests.tui.ops_fixtures import OpsStack
from tests.tui.test_approvals_tui import _refund_run
from tests.tui.test_roles import SIZE, open_pipeline

ops = ops_fixtures.ops
ops_worker = ops_fixtures.ops_worker


async def test_f5_as_designer_is_audited_by_the_server(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot, tui.client("admin") as admin:
        designer = await open_pipeline(tui, pilot)
        wid = designer.editor.workflow_id
        await pilot.press("f5")
        assert notifications(app)[-1] == "Designers cannot run workflows (workflow:execute)"
        found: list[AuditEntry] = []

        async def audited() -> bool:
            found[:] = [
                e
                for e in await admin.audit(user="dee", outcome="denied")
                if e.action == "workflow:execute"
            ]
            return bool(found)

        await until(audited, "the refused F5 on the audit trail")
        (entry,) = found
        assert entry.resource == wid
        assert entry.role == "workflow_designer"
        assert "start a run" in (entry.detail or "")
        # The server confirmed the refusal: nothing more is said, no run was started.
        assert notifications(app)[-1] == "Designers cannot run workflows (workflow:execute)"
        assert (await admin.list_runs(wid)).total == 0


async def test_a_stale_refusal_refreshes_and_asks_to_try_again(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    app = tui.app("operator")
    async with app.run_test(size=SIZE) as pilot, tui.client("admin") as admin:
        await wait_for(pilot, lambda: bool(app.session.permissions), what="signed in")
        # The app believes it may not run (its cache is stale); the server says it may.
        app.session.permissions = app.session.permissions - {"workflow:execute"}
        designer = await open_pipeline(tui, pilot)
        await pilot.press("f5")
        assert "Operators cannot run workflows (workflow:execute)" in notifications(app)
        await wait_for(
            pilot, lambda: app.session.can("workflow:execute"), what="permissions refreshed"
        )
        await wait_for(pilot, lambda: notifications(app)[-1].startswith("Permissions updated"))
        assert notifications(app)[-1] == (
            "Permissions updated: You may run workflows now (workflow:execute): "
            "your permissions had changed. Try again."
        )
        assert pilot.app.screen is designer  # no run dialog opened behind the user's back
        assert (await admin.list_runs(designer.editor.workflow_id)).total == 0
        assert not [e for e in await admin.audit(user="otto") if e.action == "workflow:execute"]


async def test_save_as_template_as_operator_is_audited_by_the_server(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    app = tui.app("operator")
    async with app.run_test(size=SIZE) as pilot, tui.client("admin") as admin:
        designer = await open_pipeline(tui, pilot)
        await pilot.press("T")
        assert "Operators cannot change templates (template:write)" in notifications(app)

        async def audited() -> bool:
            return any(
                e.action == "template:write"
                and e.resource == designer.editor.workflow_id
                and "save the workflow as a template" in (e.detail or "")
                for e in await admin.audit(user="otto", outcome="denied")
            )

        await until(audited, "the refused save as template on the audit trail")
        assert pilot.app.screen is designer


async def test_a_stale_approval_refusal_on_the_monitor_is_asked_of_the_server(
    ops: OpsStack, ops_worker: Any
) -> None:
    run_id = await _refund_run(ops)
    app = ops.app("operator")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
        screen = pilot.app.screen
        assert isinstance(screen, MonitorScreen)
        screen.show_run(run_id)
        await wait_for(pilot, lambda: screen.run is not None, what="the run")
        app.session.permissions = app.session.permissions - {"run:approve"}
        await pilot.press("a")
        refused = "Not available: operators cannot decide approvals (run:approve)"
        assert refused in notifications(app)
        await wait_for(pilot, lambda: app.session.can("run:approve"), what="refreshed")
        await wait_for(pilot, lambda: notifications(app)[-1].startswith("Permissions updated"))
        assert pilot.app.screen is screen  # no comment dialog opened behind the user's back
