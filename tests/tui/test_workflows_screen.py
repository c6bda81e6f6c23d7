"""Pilot tests of the Workflows screen: list and filter, import, export, delete, versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input

from app.screens.designer import DesignerScreen
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.dialogs.versions import VersionPicker
from app.screens.workflows import WorkflowsScreen, parse_filter
from orchestrator.spec.loader import load_file
from tests.api.conftest import pipeline_spec
from tests.tui.conftest import Tui, notifications, type_text, wait_for

SIZE = (120, 40)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def seed(tui: Tui) -> None:
    """pipeline (tag demo, two versions: v2 drops 'store', adds 'audit') and other (no tag)."""
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
        v2 = pipeline_spec()
        v2["nodes"] = [n for n in v2["nodes"] if n["id"] != "store"] + [
            {"id": "audit", "type": "task", "handler": "store"}
        ]
        v2["edges"] = [
            {"source": "fetch", "target": "transform"},
            {"source": "transform", "target": "audit"},
        ]
        await c.update_workflow("pipeline", v2)
        await c.create_workflow(pipeline_spec("other", tags=[], name="Other"))


async def listed(pilot: Any) -> WorkflowsScreen:
    """The Workflows screen once its list has loaded."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, WorkflowsScreen), what="list")
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowsScreen)
    await wait_for(pilot, lambda: bool(screen.rows), what="rows")
    return screen


def ids(screen: WorkflowsScreen) -> list[str]:
    """The ids in the table, top to bottom."""
    return [r.id for r in screen.rows]


async def select(pilot: Any, screen: WorkflowsScreen, workflow_id: str) -> None:
    """Move the table's cursor to ``workflow_id`` with the arrow keys."""
    table = screen.query_one(DataTable)
    table.focus()
    await wait_for(pilot, lambda: table.has_focus, what="table focus")
    for _ in range(len(screen.rows)):
        current = ids(screen).index(screen.selected_id() or "")
        target = ids(screen).index(workflow_id)
        if current == target:
            return
        await pilot.press("down" if target > current else "up")
    assert screen.selected_id() == workflow_id, ids(screen)


def test_parse_filter() -> None:
    assert parse_filter("etl tag:demo status:draft x") == ("etl x", "draft", ["demo"])
    assert parse_filter("") == (None, None, [])


async def test_list_filter_and_open(tui: Tui) -> None:
    await seed(tui)
    async with tui.app("designer").run_test(size=SIZE) as pilot:
        screen = await listed(pilot)
        assert sorted(ids(screen)) == ["other", "pipeline"]
        await pilot.press("slash")
        await type_text(pilot, "tag:demo")
        await wait_for(pilot, lambda: ids(screen) == ["pipeline"], what="filtered")
        await pilot.press("enter", "enter")  # the filter, then open the selected row
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen))
        designer = pilot.app.screen
        assert isinstance(designer, DesignerScreen)
        assert designer.editor.version == 2 and not designer.editor.read_only
        assert set(designer.editor.node_ids()) == {"fetch", "transform", "audit"}
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="back to the list")


async def test_import_malformed_then_valid_file(tui: Tui, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nnodes: [ {id: a, \n")
    async with tui.app("designer").run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, WorkflowsScreen))
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="path dialog")
        await type_text(pilot, str(tmp_path / "missing.yaml"))
        await pilot.press("enter")  # refused in the dialog: no such file
        assert isinstance(pilot.app.focused, Input)
        await pilot.press("escape")

        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="path dialog")
        await type_text(pilot, str(broken))
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("broken.yaml" in n for n in notifications(pilot.app)))
        message = notifications(pilot.app)[-1]
        assert message.startswith("Cannot import broken.yaml:") and "line" in message
        assert isinstance(pilot.app.screen, WorkflowsScreen)  # a message, no crash

        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="path dialog")
        await type_text(pilot, str(EXAMPLES / "data-pipeline.yaml"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen))
        designer = pilot.app.screen
        assert isinstance(designer, DesignerScreen)
        assert designer.editor.workflow_id is None and designer.editor.dirty
        await pilot.press("f10")
        await wait_for(pilot, lambda: not designer.editor.dirty, what="saved")
    async with tui.client() as c:
        stored = await c.get_workflow("data-processing-pipeline")
    assert len(stored.spec()["nodes"]) == 7


async def test_export_delete_and_versions(tui: Tui, tmp_path: Path) -> None:
    await seed(tui)
    out = tmp_path / "pipeline.yaml"
    async with tui.app("admin").run_test(size=SIZE) as pilot:
        screen = await listed(pilot)
        await select(pilot, screen, "pipeline")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input), what="export dialog")
        pilot.app.focused.value = ""  # type: ignore[union-attr]
        await type_text(pilot, str(out))
        await pilot.press("enter")
        await wait_for(pilot, out.exists, what="export written")
        assert {n.id for n in load_file(out).nodes} == {"fetch", "transform", "audit"}

        # versions: mark v1, compare with v2
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, VersionPicker))
        await pilot.press("down", "m", "up", "c")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="diff")
        designer = pilot.app.screen
        assert isinstance(designer, DesignerScreen)
        assert designer.diff == {"audit": "added", "store": "removed", "transform": "changed"}
        assert designer.editor.read_only
        await pilot.press("escape")

        # open v1 read-only
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, VersionPicker))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="v1")
        old = pilot.app.screen
        assert isinstance(old, DesignerScreen)
        assert old.editor.read_only and old.editor.version == 1
        await pilot.press("d")  # delete node: refused, read-only
        assert "store" in old.editor.node_ids()
        await pilot.press("escape")

        await wait_for(pilot, lambda: pilot.app.screen is screen)
        await select(pilot, screen, "other")
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")  # from Cancel to Delete
        await wait_for(pilot, lambda: ids(screen) == ["pipeline"], what="deleted")
