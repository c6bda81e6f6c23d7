"""The canvas's layered layout: deterministic, no overlaps, edges flow down, positions kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from app.bench.canvas_bench import generate_graph
from app.canvas.layers import build_hierarchy, count_crossings, isotonic, order_layers
from app.canvas.layout import compute_layout
from app.canvas.model import Box, CanvasEdge, CanvasGraph, CanvasNode, Layout, as_canvas_graph
from app.canvas.render import render_text
from orchestrator.errors import BadRequest
from orchestrator.spec.model import WorkflowSpec
from tests.app.diamond import designer_positions, diamond_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> WorkflowSpec:
    return WorkflowSpec.model_validate(yaml.safe_load((EXAMPLES / name).read_text()))


def assert_no_overlap(layout: Layout) -> None:
    boxes = list(layout.boxes.items())
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            assert not box_a.overlaps(box_b), f"{a} {box_a} overlaps {b} {box_b}"


def assert_flows_down(layout: Layout) -> None:
    """Every forward edge leaves its source's bottom, only goes down or sideways, and
    ends just above its target; no route cell lies inside any box."""
    for route in layout.routes:
        if route.kind != "flow":
            continue
        source, target = layout.boxes[route.source], layout.boxes[route.target]
        first, last = route.points[0], route.points[-1]
        assert first[1] == source.bottom + 1 and source.x <= first[0] <= source.right
        assert last[1] == target.y - 1 and target.x <= last[0] <= target.right, route
        ys = [y for _, y in route.points]
        assert ys == sorted(ys), f"{route.edge_id} goes up: {route.points}"
    for route in layout.routes:
        for cell in route.cells():
            inside = [n for n, box in layout.boxes.items() if box.contains(*cell)]
            assert not inside, f"{route.edge_id} runs through {inside} at {cell}"


def test_example_one_is_drawn_top_to_bottom() -> None:
    layout = compute_layout(load("data-pipeline.yaml"))
    assert set(layout.boxes) == {
        "fetch_data", "validate", "transform", "quality_check",
        "store_primary", "store_backup", "notify",
    }  # fmt: skip
    y = {n: b.y for n, b in layout.boxes.items()}
    assert y["fetch_data"] < y["validate"] < y["transform"] < y["quality_check"]
    assert y["store_primary"] == y["store_backup"] > y["quality_check"]
    assert y["notify"] > y["store_primary"]
    # The true branch is drawn left of the false branch (listed order), both labelled.
    assert layout.boxes["store_primary"].x < layout.boxes["store_backup"].x
    labels = {r.target: r.label for r in layout.routes if r.source == "quality_check"}
    assert labels == {"store_primary": "true", "store_backup": "false"}
    assert len(layout.routes) == 7 and not layout.dropped_edges
    assert_no_overlap(layout)
    assert_flows_down(layout)


@pytest.mark.parametrize("zoom", [1, 2, 3])
def test_layout_is_deterministic(zoom: int) -> None:
    first = compute_layout(generate_graph(120), zoom=zoom)
    second = compute_layout(generate_graph(120), zoom=zoom)
    assert dict(first.boxes) == dict(second.boxes)
    assert first.routes == second.routes
    assert (first.width, first.height) == (second.width, second.height)


@pytest.mark.parametrize("nodes", [100, 500])
def test_generated_graphs_have_no_overlaps_and_flow_down(nodes: int) -> None:
    layout = compute_layout(generate_graph(nodes))
    assert len(layout.boxes) == nodes
    assert_no_overlap(layout)
    assert_flows_down(layout)
    assert all(b.x >= 0 and b.y >= 0 for b in layout.boxes.values())
    assert all(b.right < layout.width and b.bottom < layout.height for b in layout.boxes.values())


def test_box_width_follows_the_label_within_bounds() -> None:
    nodes = [CanvasNode("a", "a"), CanvasNode("b", "x" * 10), CanvasNode("c", "y" * 80)]
    layout = compute_layout((nodes, [("a", "b"), ("b", "c")]))
    assert layout.boxes["a"].w == 9
    assert layout.boxes["b"].w == 16
    assert layout.boxes["c"].w == 24
    assert {b.h for b in layout.boxes.values()} == {3}
    compact = compute_layout((nodes, []), zoom=2)
    assert {b.h for b in compact.boxes.values()} == {1}


def test_compensation_nodes_sit_beside_their_task() -> None:
    layout = compute_layout(load("order-processing.yaml"))
    pairs = {
        "reserve_inventory": "release_inventory",
        "charge_payment": "refund_payment",
        "ship_order": "cancel_shipment",
    }
    for task, comp in pairs.items():
        t, c = layout.boxes[task], layout.boxes[comp]
        assert c.y == t.y and c.x > t.right
    links = {(r.source, r.target) for r in layout.routes if r.kind == "link"}
    assert links == set(pairs.items())
    # The saga with no edges still draws the chain the engine runs.
    flow = {(r.source, r.target) for r in layout.routes if r.kind == "flow"}
    assert flow == {("reserve_inventory", "charge_payment"), ("charge_payment", "ship_order")}
    assert_no_overlap(layout)
    assert_flows_down(layout)


def test_saved_positions_are_kept_unless_relayout() -> None:
    data = yaml.safe_load((EXAMPLES / "data-pipeline.yaml").read_text())
    for i, node in enumerate(data["nodes"]):
        node["position"] = {"x": 5 + 30 * (i % 3), "y": 2 + 6 * (i // 3)}
    spec = WorkflowSpec.model_validate(data)
    layout = compute_layout(spec)
    assert layout.explicit
    for i, node in enumerate(data["nodes"]):
        assert (layout.boxes[node["id"]].x, layout.boxes[node["id"]].y) == (
            5 + 30 * (i % 3),
            2 + 6 * (i // 3),
        )
    assert len(layout.routes) == 7
    auto = compute_layout(spec, relayout=True)
    assert not auto.explicit
    assert dict(auto.boxes) == dict(compute_layout(load("data-pipeline.yaml")).boxes)


def test_new_nodes_among_saved_ones_are_placed_without_overlap() -> None:
    nodes = [
        CanvasNode("a", position=(10, 1)),
        CanvasNode("b", position=(10, 8)),
        CanvasNode("c"),  # new, below b
        CanvasNode("d", position=(11, 9)),  # saved on top of b: pushed down
        CanvasNode("e"),  # new, unconnected
    ]
    layout = compute_layout((nodes, [("a", "b"), ("b", "c")]))
    assert layout.boxes["a"] == Box(10, 1, 9, 3)
    assert layout.boxes["b"] == Box(10, 8, 9, 3)
    assert layout.boxes["c"].y > layout.boxes["b"].bottom
    assert_no_overlap(layout)


def test_positions_argument_overrides_and_moves_one_node() -> None:
    spec = load("data-pipeline.yaml")
    auto = compute_layout(spec)
    positions = {n: (b.x, b.y) for n, b in auto.boxes.items()}
    positions["notify"] = (positions["notify"][0] + 40, positions["notify"][1])
    moved = compute_layout(spec, positions=positions)
    assert moved.explicit
    assert (moved.boxes["notify"].x, moved.boxes["notify"].y) == positions["notify"]
    assert all(moved.boxes[n] == auto.boxes[n] for n in positions if n != "notify")


def test_cycles_and_self_loops_are_laid_out() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "c"), ("c", "d"), ("d", "b")]
    layout = compute_layout((["a", "b", "c", "d"], edges))
    kinds = {(r.source, r.target): r.kind for r in layout.routes}
    assert kinds[("c", "c")] == "self"
    assert kinds[("c", "a")] == "back" and kinds[("d", "b")] == "back"
    assert kinds[("a", "b")] == kinds[("b", "c")] == kinds[("c", "d")] == "flow"
    back = next(r for r in layout.routes if (r.source, r.target) == ("c", "a"))
    assert back.arrow == "▲" and back.points[-1][1] == layout.boxes["a"].bottom + 1
    assert_no_overlap(layout)


def test_edges_to_unknown_nodes_are_dropped_not_fatal() -> None:
    layout = compute_layout((["a", "b"], [("a", "b"), ("a", "ghost")]))
    assert layout.dropped_edges == ("a->ghost",)
    assert [r.edge_id for r in layout.routes] == ["a->b"]


def test_duplicate_ids_keep_the_first_and_duplicate_edges_get_keys() -> None:
    graph = as_canvas_graph(
        ([CanvasNode("a", "first"), CanvasNode("a", "second"), "b"], [("a", "b"), ("a", "b")])
    )
    assert [n.label for n in graph.nodes] == ["first", ""]
    assert [e.key for e in graph.edges] == ["a->b", "a->b#2"]


@pytest.mark.parametrize(
    "bad",
    [
        "graph",
        42,
        (["a"], "edges"),
        ([3], []),
        (["a"], [("a",)]),
        ([CanvasNode("a", kind="loop")], []),
    ],
)
def test_bad_input_is_a_clear_error(bad: object) -> None:
    with pytest.raises(BadRequest):
        compute_layout(bad)


def test_bad_zoom_is_a_clear_error() -> None:
    with pytest.raises(BadRequest, match="zoom"):
        compute_layout((["a"], []), zoom=7)


def test_barycenter_ordering_removes_avoidable_crossings() -> None:
    # Listed order puts c before d, but a feeds d and b feeds c: one crossing to undo.
    h = build_hierarchy(4, [(0, 3), (1, 2)])
    assert count_crossings(h.order[0], {v: i for i, v in enumerate(h.order[1])}, h.succs) == 1
    assert order_layers(h) == 0


def test_isotonic_regression_pools_violators() -> None:
    assert isotonic([1.0, 3.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0]) == [1.0, 2.5, 2.5, 4.0]
    assert isotonic([5.0, 1.0], [3.0, 1.0]) == [4.0, 4.0]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=25).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n),
        )
    )
)
def test_any_graph_even_cyclic_lays_out_cleanly(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, pairs = case
    nodes = [CanvasNode(f"n{i}", "x" * (i % 15)) for i in range(n)]
    edges = [CanvasEdge(f"n{a}", f"n{b}") for a, b in pairs]
    layout = compute_layout(CanvasGraph(tuple(nodes), tuple(edges)))
    assert len(layout.boxes) == n
    assert len(layout.routes) == len(edges)
    assert_no_overlap(layout)
    assert_flows_down(layout)


def _diamond(positions: dict[str, tuple[int, int]] | None = None) -> WorkflowSpec:
    return WorkflowSpec.model_validate(diamond_data(positions=positions))


@pytest.mark.parametrize("zoom", [2, 3])
def test_compact_zooms_keep_the_saved_arrangement(zoom: int) -> None:
    placed = designer_positions()
    saved = _diamond(placed)
    compact = compute_layout(saved, zoom=zoom)
    assert compact.explicit
    # Saved where the designer laid it out, the compact picture is the automatic one:
    # big and small side by side on one row, the join under them, no staggering.
    assert dict(compact.boxes) == dict(compute_layout(_diamond(), zoom=zoom).boxes)
    assert compact.boxes["big"].y == compact.boxes["small"].y
    assert_no_overlap(compact)
    assert_flows_down(compact)
    text = "\n".join(render_text(compact))
    assert "true" in text and "false" in text
    # Rearranged by hand (small to the left, finish beside join): kept, at every zoom.
    moved = dict(placed)
    moved["big"], moved["small"] = moved["small"], moved["big"]
    moved["finish"] = (moved["join"][0] + 20, moved["join"][1])
    again = compute_layout(_diamond(moved), zoom=zoom)
    assert again.boxes["small"].x < again.boxes["big"].x
    assert again.boxes["finish"].y == again.boxes["join"].y
    assert again.boxes["finish"].x > again.boxes["join"].right
    assert_no_overlap(again)
