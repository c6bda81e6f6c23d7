"""Replay, Gantt, compare and the heat overlay, driven with Pilot; snapshots at two sizes.

The app runs over :class:`InsightClient`: the ops screens' canned answers plus replay,
Gantt, diff and stats answers computed by the real code over two driven runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from app.app import DagqApp
from app.editor import Editor
from app.factory import create_app
from app.screens.compare import CompareScreen
from app.screens.designer import DesignerScreen
from app.screens.gantt import GanttScreen
from app.screens.monitor import MonitorScreen
from app.screens.replay import ReplayScreen
from app.widgets.event_log import EventLog
from app.widgets.gantt_chart import GanttChart
from orchestrator.settings import load_settings
from tests.tui.insight_canned import (
    GANTT,
    RUN_A,
    RUN_B,
    STEPS,
    VERSION,
    InsightClient,
    check_shapes,
)
from tests.tui.ops_canned import RUNS
from tests.tui.ops_fixtures import wait_for

SIZES = [(120, 40), (80, 24)]
Snap = Callable[..., bool]


def _app(tmp_path: Path) -> DagqApp:
    settings = load_settings(data_dir=tmp_path / "data")
    return create_app(client=InsightClient(), settings=settings, start_mode="monitor")


def test_canned_insight_answers_have_the_api_shapes() -> None:
    check_shapes()
    assert STEPS[RUN_A]["exact"] and STEPS[RUN_B]["exact"]


async def _monitor(pilot: Pilot[Any]) -> MonitorScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
    screen = pilot.app.screen
    assert isinstance(screen, MonitorScreen)
    await wait_for(pilot, lambda: screen.run is not None, what="a run")
    return screen


async def _replay(pilot: Pilot[Any], run_id: str = RUN_A) -> ReplayScreen:
    monitor = await _monitor(pilot)
    screen = ReplayScreen(monitor.session, run_id)
    await pilot.app.push_screen(screen)
    await wait_for(pilot, lambda: screen.model is not None, what="the replay")
    await pilot.pause()
    return screen


async def test_replay_steps_scrubs_and_plays_through_the_run(tmp_path: Path) -> None:
    async with _app(tmp_path).run_test(size=(120, 40)) as pilot:
        screen = await _replay(pilot)
        model = screen.model
        assert model is not None
        steps = STEPS[RUN_A]["steps"]
        assert model.position == 0 and screen.state()["statuses"]["prep"] == "queued"
        await pilot.press("right", "right")
        assert model.position == 2 and model.step() == steps[2]
        assert len(screen.query_one(EventLog).entries) == 3
        await pilot.press("end")
        assert model.position == len(steps) - 1
        assert set(model.statuses().values()) == {"completed"}
        screen.canvas.select("slow")
        await pilot.press("shift+left")  # slow's last change: it completed
        assert steps[model.position]["nodeId"] == "slow"
        assert model.statuses()["slow"] == "completed"
        assert model.statuses(model.position - 1)["slow"] == "running"
        await pilot.press("shift+left", "shift+left")  # back through running to queued
        assert model.statuses()["slow"] == "queued"
        assert model.nodes()["slow"]["attempts"] == 2
        details = screen.query_one("#replay-node").text  # type: ignore[attr-defined]
        assert "first attempt" not in details and "queued" in details
        await pilot.press("home")
        assert model.position == -1 and set(model.statuses().values()) == {"pending"}
        assert screen.query_one(EventLog).entries == []
        await pilot.press("space", "space")  # play at 1x, pause
        assert not screen.playing
        await pilot.press("home", "s", "s", "s")  # 1x, 2x, 10x, as fast as events
        assert model.speed == 0 and model.position == -1
        await pilot.press("space")
        await wait_for(
            pilot, lambda: not screen.playing and model.position == len(steps) - 1,
            what="the end of playback",
        )  # fmt: skip
        assert model.position == len(steps) - 1
        assert len(screen.query_one(EventLog).entries) == len(steps)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, MonitorScreen)


async def test_gantt_highlights_the_critical_path_on_chart_and_canvas(tmp_path: Path) -> None:
    async with _app(tmp_path).run_test(size=(120, 40)) as pilot:
        replay = await _replay(pilot, RUN_B)
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, GanttScreen), what="gantt")
        screen = pilot.app.screen
        assert isinstance(screen, GanttScreen)
        await wait_for(pilot, lambda: screen.gantt is not None, what="the chart")
        assert screen.gantt is not None and screen.gantt.as_json() == GANTT[RUN_B]
        assert screen.query_one("#gantt-canvas")._highlighted == {  # type: ignore[attr-defined]
            "prep", "slow", "join", "report",
        }  # fmt: skip
        chart = str(screen.query_one(GanttChart).render())
        assert "critical path: prep → slow → join → report" in chart
        assert "* slow #2" in chart and "  fast" in chart
        await pilot.press("escape")
        assert pilot.app.screen is replay


async def test_mark_and_compare_two_runs_from_the_monitor(tmp_path: Path) -> None:
    async with _app(tmp_path).run_test(size=(120, 40)) as pilot:
        monitor = await _monitor(pilot)
        await pilot.press("c")  # nothing marked: refused with a reason, nothing opens
        assert pilot.app.screen is monitor
        await pilot.press("m")
        assert monitor.marked_run == RUNS[0]["runId"]
        monitor.runs_list.select_run(RUNS[1]["runId"])
        monitor.open_run(RUNS[1]["runId"])
        await wait_for(pilot, lambda: monitor.run_id == RUNS[1]["runId"], what="run 2")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), what="compare")
        screen = pilot.app.screen
        assert isinstance(screen, CompareScreen)
        assert (screen.run_a, screen.run_b) == (RUNS[0]["runId"], RUNS[1]["runId"])
        await wait_for(pilot, lambda: screen.diff is not None, what="the comparison")
        text = str(screen.query_one("#compare-text").render())
        assert "/rows changed" in text and "120" in text and "95" in text
        assert "slow" in text and "+600ms" in text
        # report's output differs, marked by a glyph and a word; the others' do not.
        assert "≠ 1 node differs" in text and "≠ report  DIFFERS" in text
        assert "= same: prep, fast, slow, join" in text
        assert set(screen.query_one("#compare-canvas")._heat) == {"report"}  # type: ignore[attr-defined]


async def test_monitor_keys_open_replay_and_gantt(tmp_path: Path) -> None:
    async with _app(tmp_path).run_test(size=(120, 40)) as pilot:
        monitor = await _monitor(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen), what="replay")
        assert pilot.app.screen.run_id == monitor.run_id  # type: ignore[attr-defined]
        await pilot.press("escape", "g")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, GanttScreen), what="gantt")


async def _designer(pilot: Pilot[Any]) -> DesignerScreen:
    monitor = await _monitor(pilot)
    spec: dict[str, Any] = VERSION["spec"]  # type: ignore[assignment]
    screen = DesignerScreen(monitor.session, Editor(spec, workflow_id="wf", version=1))
    await pilot.app.push_screen(screen)
    await pilot.pause()
    return screen


async def test_the_designer_heat_overlay_toggles(tmp_path: Path) -> None:
    async with _app(tmp_path).run_test(size=(120, 40)) as pilot:
        screen = await _designer(pilot)
        await pilot.press("H")
        await wait_for(pilot, lambda: screen.heat_on, what="the heat overlay")
        heat = screen.canvas._heat
        assert heat["slow"][1] == "p95 2.4s" and heat["slow"][0] == "#ff5f5f"
        assert heat["join"][1] == "p95 0ms"
        await pilot.press("H")
        assert not screen.heat_on and screen.canvas._heat == {}


# -- snapshots ------------------------------------------------------------------------------
async def _replay_mid(pilot: Pilot[Any]) -> None:
    screen = await _replay(pilot)
    screen.canvas.select("slow")
    await pilot.press(*["right"] * 9)  # slow's first attempt failed: backing off
    assert screen.state()["statuses"]["slow"] == "waiting"
    await pilot.pause()


async def _gantt_ready(pilot: Pilot[Any]) -> None:
    await _replay(pilot, RUN_B)
    await pilot.press("g")
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "gantt", None) is not None)
    await pilot.pause()


async def _compare_ready(pilot: Pilot[Any]) -> None:
    monitor = await _monitor(pilot)
    await pilot.app.push_screen(CompareScreen(monitor.session, RUN_A, RUN_B))
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "diff", None) is not None)
    await pilot.pause()


async def _heat_ready(pilot: Pilot[Any]) -> None:
    screen = await _designer(pilot)
    await pilot.press("H")
    await wait_for(pilot, lambda: screen.heat_on)
    pilot.app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_replay_snapshot(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """Run A at its 10th event: slow's first attempt failed and backs off; slow selected."""
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_replay_mid)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_gantt_snapshot(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """Run B: slow retried after a backoff dominates; the critical path in orange."""
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_gantt_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_snapshot(snap_compare: Snap, tmp_path: Path, size: tuple[int, int]) -> None:
    """A vs B: report's output and slow's durations differ."""
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_compare_ready)


def test_heat_snapshot(snap_compare: Snap, tmp_path: Path) -> None:
    """The designer with each node's p95 over the two runs; slow is the hottest."""
    assert snap_compare(_app(tmp_path), terminal_size=(120, 40), run_before=_heat_ready)
