"""Snapshots of the Workflows and Designer screens at 120x40 and 80x24.

The app (built by the one factory) runs over :class:`CannedClient`: fixed answers in
the API's own shapes (built with the store's record models), so the pictures hold no
clock and no random id.  The Designer shows the seed's Example 1 as ``dagq`` lays it
out, with ``transform`` selected (the mockup's inspector), and once with two errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from app.app import DagqApp
from app.factory import create_app
from app.screens.designer import DesignerScreen
from app.screens.workflows import WorkflowsScreen
from orchestrator.client import DagqClient, Page
from orchestrator.settings import load_settings
from orchestrator.spec.loader import load_file
from orchestrator.store.records import WorkflowRecord
from orchestrator.wire.ops import HandlerInfo
from orchestrator.wire.runs import WhoAmI, WorkflowSummary
from orchestrator.wire.runs import WorkflowRecord as WireWorkflow
from tests.tui.conftest import wait_for

SIZES = [(120, 40), (80, 24)]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WHEN = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
Snap = Callable[..., bool]


def record(name: str, *, version: int = 1, tags: tuple[str, ...] = ()) -> WorkflowRecord:
    """An example stored as the API stores it, at a fixed time."""
    spec = load_file(EXAMPLES / name)
    spec = spec.model_copy(update={"version": version, "tags": list(tags)})
    return WorkflowRecord(
        spec=spec, created_at=WHEN, updated_at=WHEN, created_by="ada", updated_by="dee"
    )


RECORDS = {
    r.id: r
    for r in (
        record("data-pipeline.yaml", version=3, tags=("etl", "demo")),
        record("order-processing.yaml", tags=("saga",)),
    )
}


class CannedClient(DagqClient):
    """A client whose calls answer with the records above, never the network."""

    def __init__(self, **records: WorkflowRecord) -> None:
        super().__init__("http://dagq.test", api_key="canned")
        self.records = records or RECORDS

    async def whoami(self) -> WhoAmI:
        """Dee, a designer."""
        perms = ["workflow:create", "workflow:read", "workflow:update", "workflow:delete"]
        return WhoAmI(user="dee", role="workflow_designer", permissions=perms, auth="key")

    async def list_workflows(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        tags: Iterable[str] = (),
        limit: int = 20,
        offset: int = 0,
    ) -> Page[WorkflowSummary]:
        """Both records' summaries."""
        rows = [WorkflowSummary.model_validate(r.summary().to_api()) for r in self.records.values()]
        return Page(rows, len(rows), False)

    async def get_workflow(self, workflow_id: str) -> WireWorkflow:
        """One record."""
        return WireWorkflow.model_validate(self.records[workflow_id].to_api())

    async def handlers(self) -> list[HandlerInfo]:
        """The example handlers, one worker each (so Problems shows no handler warnings)."""
        names = ("fetchData", "validateData", "transformData", "storePrimary", "storeBackup")
        return [HandlerInfo(name=name, workers=["w-1"]) for name in (*names, "sendNotification")]


def make_app(tmp_path: Path) -> DagqApp:
    """The app over the canned client."""
    settings = load_settings(data_dir=tmp_path / "data")
    return create_app(client=CannedClient(), settings=settings)


async def list_ready(pilot: Pilot[Any]) -> WorkflowsScreen:
    """The list with both rows."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, WorkflowsScreen), what="list")
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowsScreen)
    await wait_for(pilot, lambda: len(screen.rows) == 2, what="rows")
    await pilot.pause()
    return screen


async def designer_ready(pilot: Pilot[Any]) -> DesignerScreen:
    """Example 1 open in the Designer with ``transform`` selected."""
    await list_ready(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="designer")
    screen = pilot.app.screen
    assert isinstance(screen, DesignerScreen)
    screen.canvas.select("transform")
    await wait_for(
        pilot,
        # query, not query_one: the inspector rebuilds its fields, heading included.
        lambda: any("transform" in str(h.render()) for h in screen.query("#heading")),
        what="inspector",
    )
    await pilot.pause()
    return screen


async def designer_with_errors(pilot: Pilot[Any]) -> None:
    """Example 1 with transform's handler removed and a cycle drawn: marks and messages."""
    screen = await designer_ready(pilot)
    screen.editor.set_property("transform", "handler", None)
    screen.editor.connect("notify", "fetch_data")
    screen.refresh_design(select="transform")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_workflows_list(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """The opening screen: two workflows, the filter, the role line, the keys."""
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=list_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_designer_example_one(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """The mockup: canvas, properties of transform, palette, Valid ✓ Nodes: 7 Edges: 7."""
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=designer_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_designer_with_errors(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """Marked nodes, the error count in the status line, the problems listed."""
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=designer_with_errors)
