"""Hostile text through the real API, Redis and a worker, and from a file on disk.

What a user can store (a workflow named ``[/]``, markup in its description, tags, node
names, parameters and change message), what a handler can raise (an error with markup,
an ANSI colour and a right-to-left override) and a worker's chosen name are shown
literally on the Workflows, Designer, versions, Monitor and Queues screens, and nothing
a terminal would obey reaches it.  An imported file may hold what the API refuses (ids
with markup, a 10,000-character name): the Designer shows it, cut on the canvas and
whole in the inspector.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, OptionList

from app.screens.dialogs.path import PathDialog
from app.screens.dialogs.versions import VersionPicker
from app.screens.monitor import MonitorScreen
from app.screens.queues import QueuesScreen
from app.screens.workflows import NAME_WIDTH, WorkflowsScreen
from app.text import clip, visible
from app.widgets.validation_panel import ValidationPanel
from app.widgets.workers_table import WORKER_WIDTH, WorkersTable
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import OpsStack, running_worker, wait_for
from tests.tui.screen_text import (
    assert_display_safe,
    designer_fields,
    head,
    on_screen,
    reach,
    shows,
)

ops = ops_fixtures.ops

SIZE = (200, 50)
NAME = "[/]"
"""The workflow name that crashed every user's Workflows screen."""
DESCRIPTION = "[@click=app.quit]Payroll[/]"
NODE_NAME = "[link=https://x]x[/link]"
CHANGE_LOG = "[reverse]v2[/reverse] \x1b[31m"
PARAMETER = "[/i]x[i]"
PARAMETER_HELP = "\x1b[31mred\x1b[0m \u202eexe.txt"
ERROR = "[/] \x1b[31mboom\x1b[0m \u202eexe.txt [@click=app.quit]x[/]"
WORKER_ID = "[@click=app.quit]w[/]-\x1b]0;owned\x07"


def payroll(description: str = DESCRIPTION) -> dict[str, Any]:
    """One task whose handler raises :data:`ERROR`, hostile in every text a user writes."""
    return {
        "id": "payroll",
        "name": NAME,
        "description": description,
        "tags": ["[b", "[reverse]"],
        "nodes": [
            {"id": "pay", "type": "task", "handler": "hostileStep", "name": NODE_NAME, "retries": 0}
        ],
        "parameters": {PARAMETER: {"type": "string", "description": PARAMETER_HELP}},
    }


@pytest.fixture
async def hostile_worker(ops: OpsStack) -> AsyncIterator[Worker]:
    """A real worker named :data:`WORKER_ID` whose one handler fails with :data:`ERROR`."""

    def hostile(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        raise RuntimeError(ERROR)

    registry = Registry()
    registry.register("hostileStep", hostile)
    async with running_worker(ops.settings, registry, worker_id=WORKER_ID) as worker:
        yield worker


async def test_what_users_store_and_handlers_raise_is_shown_literally(
    ops: OpsStack, hostile_worker: Worker
) -> None:
    async with ops.client("admin") as c:
        await c.create_workflow(payroll())
        await c.update_workflow("payroll", payroll(f"{DESCRIPTION} v2"), change_log=CHANGE_LOG)
        run_id = str((await c.start_run("payroll", {})).runId)
    assert (await ops.wait_run(run_id)).status == "failed"

    app = ops.app("admin", start_mode="workflows")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        # The list with the row named "[/]" (a MarkupError, exit 1, before).
        screen = await reach(pilot, None, WorkflowsScreen)
        await wait_for(pilot, lambda: "payroll" in [r.id for r in screen.rows], what="row")
        table = screen.query_one(DataTable)
        table.move_cursor(row=[r.id for r in screen.rows].index("payroll"))
        await wait_for(pilot, lambda: screen.selected_id() == "payroll", what="selected")
        await pilot.pause()
        await shows(pilot, table, f"{NAME} payroll", "[b, [reverse]")
        assert_display_safe(app)

        # Its versions: the change message, escaped where it holds an ANSI escape.
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, VersionPicker), what="versions")
        await pilot.pause()
        await shows(pilot, app.screen.query_one(OptionList), visible(CHANGE_LOG))
        assert_display_safe(app)
        await pilot.press("escape")

        # The Designer: the name in the title, the node's name on the canvas, the fields.
        designer, inspector = await designer_fields(pilot, "enter")
        await on_screen(pilot, f"Workflow Designer — {NAME}")
        await shows(pilot, designer.canvas, clip(NODE_NAME, 18))
        values = [i.value for i in inspector.query(Input)]
        assert values == [NAME, f"{DESCRIPTION} v2", "[b, [reverse]"]
        assert_display_safe(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, WorkflowsScreen), what="back")

        # The Monitor: the handler's error in the event log and the node's details.
        monitor = await reach(pilot, "2", MonitorScreen)
        await wait_for(
            pilot,
            lambda: monitor.run_id == run_id and monitor.details.node_id == "pay",
            what="the failed run",
        )
        await wait_for(pilot, lambda: visible(ERROR) in monitor.details.text, what="the error")
        await pilot.pause()
        await shows(pilot, monitor.event_log, head(ERROR))
        await shows(pilot, monitor.details, visible(ERROR), visible(WORKER_ID))
        assert_display_safe(app)

        # Queues: the live worker by its chosen name.
        queues = await reach(pilot, "3", QueuesScreen)
        workers = queues.query_one(WorkersTable)
        await wait_for(pilot, lambda: WORKER_ID in workers.worker_ids, what="the worker")
        await pilot.pause()
        await shows(pilot, workers, clip(WORKER_ID, WORKER_WIDTH))
        assert_display_safe(app)
        # Leave before the end: a refresh in flight while the app closes fails to find
        # the widgets it fills (a race of QueuesScreen.load at exit, not of this test).
        await reach(pilot, "1", WorkflowsScreen)


async def test_an_imported_file_with_hostile_ids_and_a_huge_name(
    ops: OpsStack, tmp_path: Path
) -> None:
    name = "[reverse]" + "N" * 9_991
    file = tmp_path / "hostile.json"
    spec = {
        "id": "imported",
        "name": name,
        "nodes": [
            {"id": "[/]", "type": "task", "handler": "fetchData", "name": name},
            {"id": "a\x1b[31mb", "type": "task", "handler": "fetchData"},
        ],
        "edges": [{"source": "[/]", "target": "a\x1b[31mb", "label": "[@click=app.quit]go[/]"}],
    }
    file.write_text(json.dumps(spec), encoding="utf-8")
    app = ops.app("admin", start_mode="workflows")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await reach(pilot, None, WorkflowsScreen)
        dialog = await reach(pilot, "i", PathDialog)
        dialog.query_one(Input).value = str(file)
        designer, inspector = await designer_fields(pilot, "enter")
        # Cut with an ellipsis in the title and on the canvas, whole in the inspector.
        await on_screen(pilot, clip(f"Workflow Designer — {clip(name, 60)}", 200))
        await shows(pilot, designer.canvas, clip(name, 18), clip("a\x1b[31mb", 18))
        assert inspector.query(Input).first().value == name
        # The problems name the ids literally (they are not valid ids).
        await shows(pilot, designer.query_one(ValidationPanel), "[/]")
        assert_display_safe(app)

        designer.canvas.select("[/]")
        await wait_for(pilot, lambda: inspector.node_id == "[/]", what="the node's fields")
        await pilot.pause()
        assert [i.value for i in inspector.query(Input)][:2] == ["[/]", name]
        await shows(pilot, inspector.query_one("#heading"), "Node: [/]")
        assert_display_safe(app)
        # The list itself never saw the file: a 10,000-character name stays in the designer.
        assert len(name) > NAME_WIDTH
