"""The canvas widget in a real (headless) Textual app: keys, mouse, zoom, messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.app import App, ComposeResult
from textual.message import Message

from app.canvas.model import Box, CanvasNode
from app.canvas.navigate import nearest_in_direction
from app.widgets.canvas_view import CanvasView
from orchestrator.errors import BadRequest, NotFound
from orchestrator.spec.model import WorkflowSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SIZE = (120, 40)


def example() -> WorkflowSpec:
    return WorkflowSpec.model_validate(
        yaml.safe_load((EXAMPLES / "data-pipeline.yaml").read_text())
    )


class CanvasApp(App[None]):
    """Hosts only the canvas and records what it posts."""

    def __init__(self, graph: Any) -> None:
        super().__init__()
        self.graph = graph
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield CanvasView(self.graph)

    def on_mount(self) -> None:
        self.query_one(CanvasView).focus()

    def on_canvas_view_node_selected(self, message: CanvasView.NodeSelected) -> None:
        self.messages.append(message)

    def on_canvas_view_node_moved(self, message: CanvasView.NodeMoved) -> None:
        self.messages.append(message)

    def on_canvas_view_node_activated(self, message: CanvasView.NodeActivated) -> None:
        self.messages.append(message)

    def on_canvas_view_arranged(self, message: CanvasView.Arranged) -> None:
        self.messages.append(message)


def visible_text(canvas: CanvasView) -> str:
    return "\n".join(canvas.render_line(y).text for y in range(canvas.size.height))


async def test_keyboard_selection_walks_the_graph() -> None:
    app = CanvasApp(example())
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(CanvasView)
        await pilot.press("down")
        assert canvas.selected == "fetch_data"
        await pilot.press("down", "j", "down")
        assert canvas.selected == "quality_check"
        await pilot.press("down")
        assert canvas.selected == "store_primary"
        await pilot.press("l")
        assert canvas.selected == "store_backup"
        await pilot.press("h", "up", "k")
        assert canvas.selected == "transform"
        await pilot.press("enter")
        await pilot.pause()
        selected = [m.node_id for m in app.messages if isinstance(m, CanvasView.NodeSelected)]
        assert selected == [
            "fetch_data", "validate", "transform", "quality_check",
            "store_primary", "store_backup", "store_primary", "quality_check", "transform",
        ]  # fmt: skip
        activated = [m for m in app.messages if isinstance(m, CanvasView.NodeActivated)]
        assert [m.node_id for m in activated] == ["transform"]
        assert activated[0].control is canvas


async def test_shift_arrows_move_the_selected_node_and_positions_follow() -> None:
    app = CanvasApp(example())
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(CanvasView)
        before = canvas.positions()
        canvas.select("notify")
        await pilot.press("shift+right", "shift+right", "shift+down")
        await pilot.pause()
        after = canvas.positions()
        x, y = before["notify"]
        assert after["notify"] == (x + 4, y + 1)
        assert {k: v for k, v in after.items() if k != "notify"} == {
            k: v for k, v in before.items() if k != "notify"
        }
        moves = [(m.node_id, m.x, m.y) for m in app.messages if isinstance(m, CanvasView.NodeMoved)]
        assert moves == [("notify", x + 2, y), ("notify", x + 4, y), ("notify", x + 4, y + 1)]
        assert canvas.layout_result is not None and canvas.layout_result.explicit


async def test_moving_into_another_node_hops_over_it() -> None:
    app = CanvasApp(example())
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(CanvasView)
        canvas.select("store_primary")
        # The first step still fits in the gap; the second would overlap, so it hops.
        await pilot.press("shift+right", "shift+right")
        await pilot.pause()
        layout = canvas.layout_result
        assert layout is not None
        primary, backup = layout.boxes["store_primary"], layout.boxes["store_backup"]
        assert primary.x > backup.right  # jumped past its neighbour, no overlap
        assert not primary.overlaps(backup)


async def test_mouse_click_selects_and_drag_moves() -> None:
    app = CanvasApp(example())
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(CanvasView)
        layout = canvas.layout_result
        assert layout is not None
        pad = (SIZE[0] - layout.width) // 2  # a narrow graph is centred in the view
        box = layout.boxes["transform"]
        assert canvas.node_at(pad + box.x, box.y) == "transform"
        await pilot.click(canvas, offset=(pad + box.x + 2, box.cy))
        assert canvas.selected == "transform"
        await pilot.click(canvas, offset=(0, 0))  # empty canvas clears the selection
        assert canvas.selected is None

        store = layout.boxes["store_backup"]
        await pilot.mouse_down(canvas, offset=(pad + store.x + 1, store.cy))
        await pilot.hover(canvas, offset=(pad + store.x + 7, store.cy + 1))
        await pilot.mouse_up(canvas, offset=(pad + store.x + 7, store.cy + 1))
        await pilot.pause()
        assert canvas.selected == "store_backup"
        assert canvas.positions()["store_backup"] == (store.x + 6, store.y + 1)
        moved = [m for m in app.messages if isinstance(m, CanvasView.NodeMoved)]
        assert [(m.node_id, m.x, m.y) for m in moved] == [
            ("store_backup", store.x + 6, store.y + 1)
        ]


async def test_zoom_keys_and_relayout() -> None:
    app = CanvasApp(example())
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(CanvasView)
        auto = canvas.positions()
        await pilot.press("minus")
        assert canvas.zoom == 2
        assert "[▣ fetch_data" in visible_text(canvas)
        await pilot.press("minus", "minus")
        assert canvas.zoom == 3  # clamped
        await pilot.press("plus", "plus", "plus")
        assert canvas.zoom == 1
        assert "╭" in visible_text(canvas)
        canvas.select("notify")
        await pilot.press("shift+left")
        assert canvas.positions() != auto
        await pilot.press("L")
        await pilot.pause()
        assert canvas.positions() == auto
        arranged = [m for m in app.messages if isinstance(m, CanvasView.Arranged)]
        assert arranged and arranged[-1].positions == auto


async def test_statuses_marks_and_source_highlight_are_drawn() -> None:
    app = CanvasApp(example())
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(CanvasView)
        canvas.set_statuses(
            {"fetch_data": "completed", "validate": "running", "transform": "failed"}
        )
        canvas.set_marks(["notify"], ["store_backup->notify"])
        canvas.pending_source = "quality_check"
        await pilot.pause()
        text = visible_text(canvas)
        assert "fetch_data ✓" in text and "validate ●" in text and "transform ✗" in text
        assert "┏" in text and "┃" in text
        assert "●" in text


async def test_large_graph_scrolls_and_pans() -> None:
    nodes = [CanvasNode(f"n{i}", f"step {i}") for i in range(60)]
    edges = [(f"n{i}", f"n{i + 1}") for i in range(59)]
    app = CanvasApp((nodes, edges))
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(CanvasView)
        assert canvas.virtual_size.height > SIZE[1]
        canvas.select("n59")
        await pilot.pause()
        assert canvas.scroll_y > 0
        assert "step 59" in visible_text(canvas)
        before = canvas.scroll_y
        await pilot.press("ctrl+up")
        await pilot.pause()
        assert canvas.scroll_y < before
        assert canvas.selected == "n59"


async def test_set_graph_keeps_moved_positions_and_rejects_bad_input() -> None:
    app = CanvasApp(example())
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(CanvasView)
        canvas.select("notify")
        await pilot.press("shift+right")
        moved = canvas.positions()["notify"]
        canvas.set_graph(example())  # the screen re-sends the spec without positions
        assert canvas.positions()["notify"] == moved
        assert canvas.selected == "notify"
        canvas.set_graph(example(), relayout=True)
        assert canvas.positions()["notify"] != moved
        with pytest.raises(BadRequest):
            canvas.set_graph("not a graph")
        with pytest.raises(NotFound):
            canvas.select("ghost")


def test_nearest_in_direction_prefers_the_same_column() -> None:
    boxes = {
        "o": Box(10, 0, 9, 3),
        "below": Box(10, 8, 9, 3),
        "below_far_right": Box(40, 6, 9, 3),
        "right": Box(25, 1, 9, 3),
    }
    assert nearest_in_direction(boxes, "o", "down") == "below"
    assert nearest_in_direction(boxes, "o", "right") == "right"
    assert nearest_in_direction(boxes, "o", "up") is None


def test_example_one_snapshot(snap_compare: Callable[..., bool]) -> None:
    """Example 1 on the canvas at 120x40, ``quality_check`` selected."""
    assert snap_compare(CanvasApp(example()), press=["down"] * 4, terminal_size=SIZE)
