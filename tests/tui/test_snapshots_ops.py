"""Snapshots of the Monitor, Queues, Admin and Approvals screens at 120x40 and 80x24.

The screens run in the real app (the one factory) over :class:`CannedClient`, whose
answers are fixed and checked against the API's response models, so the pictures
hold no clock and no random id.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from app.app import DagqApp
from app.factory import create_app
from app.live import LiveState
from app.screens.admin import AdminScreen
from app.screens.approvals import ApprovalsScreen
from app.screens.monitor import MonitorScreen
from app.screens.queues import QueuesScreen
from app.widgets.audit_log import AuditLog
from app.widgets.policy_status import PolicyStatus
from orchestrator.settings import load_settings
from tests.tui.ops_canned import AUDIT, EVENTS, CannedApprovals, CannedClient, check_shapes
from tests.tui.ops_fixtures import wait_for

SIZES = [(120, 40), (80, 24)]
Snap = Callable[..., bool]


def _app(tmp_path: Path, mode: str, client: CannedClient | None = None) -> DagqApp:
    settings = load_settings(data_dir=tmp_path / "data")
    return create_app(client=client or CannedClient(), settings=settings, start_mode=mode)


def test_canned_answers_have_the_api_shapes() -> None:
    check_shapes()


async def _monitor_ready(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
    screen = pilot.app.screen
    assert isinstance(screen, MonitorScreen)
    await wait_for(
        pilot,
        lambda: screen.run is not None
        and len(screen.event_log.entries) == len(EVENTS)
        and screen.header.state is LiveState.ENDED
        and screen.statuses.get("cancel_shipment") == "skipped"
        and screen.canvas.selected == "ship_order",
        what="the run on screen",
    )  # fmt: skip
    # The follower has ended (its last message posted), the events are drawn, and no
    # list, run or node fetch is in flight to redraw during the capture.
    await wait_for(
        pilot,
        lambda: not screen.redraw_due
        and not any(
            w.group in ("follow", "list", "run", "node") and not w.is_finished
            for w in pilot.app.workers
        ),
        what="the follower and the fetches to finish",
    )  # fmt: skip
    await pilot.wait_for_scheduled_animations()


async def _queues_ready(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueuesScreen), what="queues")
    screen = pilot.app.screen
    assert isinstance(screen, QueuesScreen)
    await wait_for(
        pilot,
        lambda: screen.queues is not None and len(screen.dead_letters.letters) == 2,
        what="dead letters",
    )
    await pilot.pause()


async def _admin_ready(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AdminScreen), what="admin")
    screen = pilot.app.screen
    await wait_for(
        pilot,
        lambda: screen.is_mounted
        and bool(screen.query(AuditLog))
        and len(screen.query_one(AuditLog).entries) == len(AUDIT)
        and screen.query_one(PolicyStatus).status is not None,
        what="the admin data",
    )  # fmt: skip
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_monitor_with_a_compensated_saga(
    snap_compare: Snap, tmp_path: Path, size: tuple[int, int]
) -> None:
    """Example 2 failed at ship_order and compensated: the canvas, its events, ship_order."""
    assert snap_compare(_app(tmp_path, "monitor"), terminal_size=size, run_before=_monitor_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_queues(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """Depths per handler and lane, two live workers, two dead letters (admin)."""
    assert snap_compare(_app(tmp_path, "queues"), terminal_size=size, run_before=_queues_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_admin(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """Users (one disabled without a policy role), a refused policy edit, the audit log."""
    assert snap_compare(_app(tmp_path, "admin"), terminal_size=size, run_before=_admin_ready)


async def _approvals_ready(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ApprovalsScreen), what="approvals")
    screen = pilot.app.screen
    assert isinstance(screen, ApprovalsScreen)
    await wait_for(
        pilot,
        lambda: len(screen.rows) == 2 and "2 approvals waiting" in pilot.app.title,
        what="the approvals and the count",
    )
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_approvals(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """Two approvals waiting: one half decided (its decision and deadline shown)."""
    app = _app(tmp_path, "approvals", CannedApprovals())
    assert snap_compare(app, terminal_size=size, run_before=_approvals_ready)
