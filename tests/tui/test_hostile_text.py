"""Markup and terminal injection: hostile text in every field, on every screen.

Each payload goes into every string a user or a handler controls (through
:class:`~tests.tui.hostile_canned.HostileClient`, whose answers are checked against the
API's models), then the app is walked through every screen: the Workflows list (and a
click on the user's name), a refused delete (its notification), the versions dialog and
a comparison, the Designer (canvas, inspector, problems, the run dialog), the Monitor
(runs, header, event log, node details), Queues (depths, workers, dead letters), Admin
(users, policy, audit and its filter) and the help.  On each the app must still run, the
text must be found literally in what was drawn (escaped where it holds controls), and no
control character may reach the terminal.  A real API and worker check the same for
what a user can store and a handler can raise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets._toast import Toast

from app.app import DagqApp
from app.factory import create_app
from app.live import LiveState
from app.screens import designer as designer_screen
from app.screens import workflows
from app.screens.admin import AdminScreen
from app.screens.approvals import ApprovalsScreen
from app.screens.designer import DesignerScreen
from app.screens.dialogs import versions
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.dialogs.run_params import RunParametersDialog
from app.screens.dialogs.versions import VersionPicker
from app.screens.help import HelpScreen
from app.screens.monitor import MonitorScreen
from app.screens.queues import QueuesScreen
from app.screens.workflows import WorkflowsScreen
from app.text import clip, visible, width_of
from app.widgets import (
    audit_log,
    dead_letters,
    event_log,
    queue_table,
    users_table,
    workers_table,
)
from app.widgets.audit_log import AuditLog
from app.widgets.node_details import NodeDetails
from app.widgets.policy_status import PolicyStatus
from app.widgets.queue_table import QueueTable
from app.widgets.row_detail import RowDetail
from app.widgets.users_table import UsersTable
from app.widgets.validation_panel import ValidationPanel
from app.widgets.workers_table import WorkersTable
from orchestrator.settings import load_settings
from tests.tui.conftest import wait_for
from tests.tui.hostile_canned import WORKFLOW, Hostile, HostileClient
from tests.tui.screen_text import (
    WRAPPED_PREFIX,
    assert_display_safe,
    designer_fields,
    head,
    on_screen,
    reach,
    shows,
    wrapped,
)

SIZE = (240, 60)
LONG = "[reverse]" + "x" * 9_988 + "[/]"
PAYLOADS = {
    "close": "[/]",
    "actions": "[@click=app.quit]Payroll[/] [link=https://x]x[/link] [reverse]",
    "broken": "[b][i]x[/b][/i] \\[u] [b",
    "controls": "\x1b[31mred\x1b[0m \x1b]0;owned\x07 \x00\x08\r\x7f\x9b one\ntwo "
    "\u202eexe.txt\u202c",
    "long": LONG,
}
"""``[/]`` (the name that crashed every Workflows screen); markup that would act, link and
restyle; unbalanced, crossed and unclosed tags after a backslash (Textual's escape); an
ANSI colour, a title-setting OSC, C0 and C1 controls, a line break and a right-to-left
override; 10,000 characters with markup at both ends."""


# -- the walk --------------------------------------------------------------------------------
async def workflows_list(pilot: Pilot[Any], h: Hostile) -> WorkflowsScreen:
    """The list shows names, ids and tags literally; clicking the user's name does nothing."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    screen = await reach(pilot, None, WorkflowsScreen)
    await wait_for(pilot, lambda: len(screen.rows) == 2, what="rows")
    await pilot.pause()
    await shows(
        pilot,
        screen.query_one(DataTable),
        clip(h("wn"), workflows.NAME_WIDTH),
        clip(h("wi"), workflows.ID_WIDTH),
        clip(h("tg", 64), workflows.TAGS_WIDTH),
    )
    role = screen.query_one("#role", Static)
    await shows(pilot, role, head(h("me")))
    # As markup, "me:[@click=app.quit]Payroll[/]" makes "Payroll" a quit button.
    await pilot.click(role, offset=(6, 0))
    await pilot.pause()
    assert_display_safe(app)
    return screen


async def refused_delete(pilot: Pilot[Any], h: Hostile, screen: WorkflowsScreen) -> None:
    """The confirmation quotes the hostile id; the refusal's notification the payload."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    screen.query_one(DataTable).move_cursor(row=1)
    await wait_for(pilot, lambda: screen.selected_id() == h("wi"), what="second row")
    await pilot.press("delete")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
    await pilot.pause()
    await shows(pilot, app.screen.query_one(Static), wrapped(h("wi")))
    assert_display_safe(app)
    await pilot.press("y")
    await wait_for(pilot, lambda: bool(app.screen.query(Toast)), what="notification")
    await pilot.pause()
    await shows(pilot, app.screen.query(Toast).last(), wrapped(h("nx")))
    assert_display_safe(app)
    screen.query_one(DataTable).move_cursor(row=0)
    await wait_for(pilot, lambda: screen.selected_id() == WORKFLOW, what="first row")


async def versions_and_compare(pilot: Pilot[Any], h: Hostile) -> None:
    """Authors and change messages in the versions list; the name in a comparison's title."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(app.screen, VersionPicker), what="versions")
    await pilot.pause()
    line = f"v2  by {h('vb')}  — {h('v2')}"
    await shows(pilot, app.screen.query_one(OptionList), clip(line, versions.LINE_WIDTH))
    assert_display_safe(app)
    await pilot.press("m", "down", "c")
    await wait_for(pilot, lambda: isinstance(app.screen, DesignerScreen), what="comparison")
    await pilot.pause()
    await on_screen(pilot, clip(h("wn"), workflows.CAPTION_NAME_WIDTH) + ": v1 → v2")
    assert_display_safe(app)
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(app.screen, WorkflowsScreen), what="back")


async def designer(pilot: Pilot[Any], h: Hostile) -> None:
    """Title, canvas labels, problems, inspector fields and the run dialog."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    screen, inspector = await designer_fields(pilot, "enter")
    await on_screen(pilot, clip(h("wn", 256), designer_screen.TITLE_NAME_WIDTH))
    await shows(pilot, screen.canvas, clip(h("nn", 256), 18), clip(h("n2", 256), 18))
    problem = f"edge id '{h('ei', 256)}' is used by"
    await shows(pilot, screen.query_one(ValidationPanel), head(problem))
    values = [i.value for i in inspector.query(Input)]
    assert values == [visible(h("wn", 256)), visible(h("wd", 4096)), visible(h("tg", 64))]
    assert_display_safe(app)

    screen.canvas.select("first")
    await wait_for(
        pilot,
        lambda: inspector.node_id == "first" and len(inspector.query(Input)) > 3,
        what="node fields",
    )
    await pilot.pause()
    assert visible(h("nn", 256)) in [i.value for i in inspector.query(Input)]
    assert_display_safe(app)

    await pilot.press("f5")
    await wait_for(pilot, lambda: isinstance(app.screen, RunParametersDialog), what="run dialog")
    panel = app.screen.query_one(".panel")
    panel.scroll_home(animate=False)  # the field has the focus, under a long description
    await pilot.pause()
    await shows(pilot, panel, head(h("pn")), wrapped(h("pd")))
    assert_display_safe(app)
    await pilot.press("escape")
    await wait_for(pilot, lambda: app.screen is screen, what="designer again")
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(app.screen, WorkflowsScreen), what="list again")


async def monitor(pilot: Pilot[Any], h: Hostile) -> None:
    """The run's name and error, its events, and the failed node's every detail."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    screen = await reach(pilot, "2", MonitorScreen)
    await wait_for(
        pilot,
        lambda: (
            screen.run is not None
            and len(screen.event_log.entries) == 4
            and screen.header.state is LiveState.ENDED
            and screen.details.node_id == "first"
        ),
        what="the run",
    )
    await pilot.pause()
    runs = screen.runs_list
    await shows(pilot, runs.table, clip(h("rw"), runs._name_width))
    header = head(h("wn", 256))
    # The run's error as its events tell it (the view's own is replaced by run_failed's).
    await shows(pilot, screen.header, header, head(h("rf")))
    await shows(
        pilot,
        screen.event_log,
        head(h("ev")),
        clip(h("et"), event_log.TYPE_WIDTH * 2),
        clip(h("en"), event_log.NODE_WIDTH),
        head(h("rf")),
    )
    details = screen.query_one(NodeDetails)
    await shows(pilot, details, wrapped(h("nm"))[:40])
    text = details.text.replace("\n", "")
    for tag in ("nm", "wk", "te"):
        assert visible(h(tag)) in text, tag
    assert visible(h("le"), multiline=True).replace("\n", "") in text
    for tag in ("ip", "op"):  # in JSON, where a string's controls are escaped already
        assert tag + ":" in text, tag
    assert_display_safe(app)


async def queues(pilot: Pilot[Any], h: Hostile) -> None:
    """Handler names, lanes, workers and every text of a dead letter."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    screen = await reach(pilot, "3", QueuesScreen)
    await wait_for(pilot, lambda: len(screen.dead_letters.letters) == 1, what="dead letters")
    await pilot.pause()
    await shows(
        pilot,
        screen.query_one(QueueTable),
        clip(h("qh"), queue_table.HANDLER_WIDTH),
        clip(h("ql"), queue_table.LANE_WIDTH),
    )
    # The handlers column starts near the table's edge: its start must be literal.
    await shows(
        pilot,
        screen.query_one(WorkersTable),
        clip(h("wo"), workers_table.WORKER_WIDTH),
        clip(f"{h('ho')}:7", workers_table.HOST_WIDTH),
        visible(h("wh"))[:6],
    )
    await shows(
        pilot,
        screen.dead_letters,
        *(clip(h(tag), dead_letters.ID_WIDTH) for tag in ("du", "dn", "dh")),
        clip(h("dr"), dead_letters.REASON_WIDTH),
    )
    # A reason the table cut is whole under it.
    detail = screen.query_one("#dead-detail", RowDetail)
    cut = width_of(h("dr"), dead_letters.REASON_WIDTH) > dead_letters.REASON_WIDTH
    await wait_for(pilot, lambda: detail.display == cut, what="the letter's detail")
    if cut:
        assert visible(h("dr"), multiline=True) in detail.text
        await shows(pilot, detail, wrapped(h("dr"))[:60])
    assert_display_safe(app)


async def approvals(pilot: Pilot[Any], h: Hostile) -> None:
    """An approval's run, node and workflow names, its message, approvers and comment."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    await app.action_mode("approvals")  # the admin's filter field holds the focus (and a 6)
    screen = await reach(pilot, None, ApprovalsScreen)
    await wait_for(pilot, lambda: len(screen.rows) == 1, what="the approval")
    await pilot.pause()
    # the message first (a long one fills the pane: the rest scrolls)
    await shows(pilot, screen.query_one("#approval-text"), visible(h("pm"))[:40])
    assert_display_safe(app)


async def admin(pilot: Pilot[Any], h: Hostile) -> None:
    """Users, the policy status, the audit log and a filter typed by the admin."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    screen = await reach(pilot, "4", AdminScreen)
    await wait_for(
        pilot,
        lambda: (
            screen.is_mounted
            and bool(screen.query(AuditLog))
            and len(screen.audit_log.entries) == 1
            and len(screen.query_one(UsersTable).names) == 1
            and screen.query_one(PolicyStatus).status is not None
        ),
        what="the admin data",
    )
    await pilot.pause()
    await shows(
        pilot,
        screen.query_one(UsersTable),
        clip(h("un"), users_table.NAME_WIDTH),
        clip(h("ur"), users_table.ROLE_WIDTH),
        clip(h("up"), users_table.ROLE_WIDTH),
    )
    # One-line values (the directory) wrap in the panel too: their breaks are escaped.
    policy = screen.query_one(PolicyStatus)
    await shows(pilot, policy, visible(h("pr"))[:WRAPPED_PREFIX])
    if len(h.payload) < 100:  # long roles push the rest below the panel
        await shows(pilot, policy, visible(h("pp")), wrapped(h("pe")), wrapped(h("pu")))
    audit = screen.audit_log
    await shows(
        pilot,
        audit.query_one(DataTable),
        clip(h("au"), audit_log.USER_WIDTH),
        clip(h("aa"), audit_log.ACTION_WIDTH),
        clip(h("as"), audit_log.RESOURCE_WIDTH),
        clip(h("ao"), audit_log.OUTCOME_WIDTH),
        clip(h("ad"), audit_log.DETAIL_WIDTH),
    )
    # Texts the table cut are whole under it.
    detail = audit.query_one("#audit-detail", RowDetail)
    columns = [
        ("au", audit_log.USER_WIDTH),
        ("aa", audit_log.ACTION_WIDTH),
        ("as", audit_log.RESOURCE_WIDTH),
        ("ao", audit_log.OUTCOME_WIDTH),
        ("ad", audit_log.DETAIL_WIDTH),
    ]
    assert detail.display == any(width_of(h(tag), w) > w for tag, w in columns)
    if detail.display:
        assert visible(h("ad"), multiline=True) in detail.text
    # What an admin can type (a key press cannot make a control character).
    typed = visible(h("tf"))
    field = audit.query_one("#audit-user", Input)
    field.value = typed
    field.focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: audit.user == typed, what="the user filter")
    await pilot.pause()
    pager = audit.query_one("#audit-pager", Static)
    await shows(pilot, pager, head(f"user={typed}"))
    assert_display_safe(app)


async def help_screen(pilot: Pilot[Any]) -> None:
    """F1 opens over everything and closes again."""
    app = pilot.app
    assert isinstance(app, DagqApp)
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
    await pilot.pause()
    assert_display_safe(app)
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
async def test_hostile_text_is_shown_literally_on_every_screen(
    tmp_path: Path, payload: str
) -> None:
    h = Hostile(payload)
    h.check_shapes()
    settings = load_settings(data_dir=tmp_path / "data")
    app = create_app(client=HostileClient(h), settings=settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await workflows_list(pilot, h)
        await refused_delete(pilot, h, screen)
        await versions_and_compare(pilot, h)
        await designer(pilot, h)
        await monitor(pilot, h)
        await queues(pilot, h)
        await admin(pilot, h)
        await approvals(pilot, h)
        await help_screen(pilot)
        assert_display_safe(app)
