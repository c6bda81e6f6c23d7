"""Rendering the canvas: labels, arrowheads, statuses, marks, zoom levels, viewports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rich.cells import cell_len

from app.canvas.glyphs import STATUS_MARKS, STATUSES, all_glyphs
from app.canvas.layout import compute_layout
from app.canvas.model import CanvasEdge, CanvasGraph, CanvasNode, Layout
from app.canvas.render import Decorations, Scene, distinct_texts, fit, render_lines, render_text
from app.text import clip_middle, escape_of
from orchestrator.spec.model import WorkflowSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEJAVU_MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
EXAMPLE_ONE = (
    "fetch_data",
    "validate",
    "transform",
    "quality_check",
    "store_primary",
    "store_backup",
    "notify",
)


def example(name: str = "data-pipeline.yaml") -> WorkflowSpec:
    return WorkflowSpec.model_validate(yaml.safe_load((EXAMPLES / name).read_text()))


def char_at(lines: list[str], x: int, y: int) -> str:
    line = lines[y]
    return line[x] if x < len(line) else " "


def test_every_glyph_is_one_cell_wide() -> None:
    for glyph in all_glyphs():
        assert cell_len(glyph) == 1, glyph


def test_every_glyph_is_in_a_common_terminal_font() -> None:
    ttlib = pytest.importorskip("fontTools.ttLib")
    if not DEJAVU_MONO.exists():
        pytest.skip("DejaVu Sans Mono is not installed here")
    cmap = ttlib.TTFont(str(DEJAVU_MONO)).getBestCmap()
    missing = [g for g in all_glyphs() if ord(g) not in cmap]
    assert not missing, f"not in DejaVu Sans Mono: {missing}"


def test_status_marks_are_distinct_and_cover_every_status() -> None:
    assert set(STATUS_MARKS) == set(STATUSES)
    assert len(set(STATUS_MARKS.values())) == len(STATUSES)


def test_example_one_shows_every_node_label_and_branch() -> None:
    layout = compute_layout(example())
    lines = render_text(layout)
    text = "\n".join(lines)
    for node_id in EXAMPLE_ONE:
        assert node_id in text
    assert "true" in text and "false" in text
    assert text.count("◇") == 1 and text.count("▣") == 6
    # Every edge ends in an arrowhead just above its target.
    for route in layout.routes:
        x, y = route.points[-1]
        assert char_at(lines, x, y) == "▼"
        assert layout.boxes[route.target].y == y + 1
    assert len(lines) == layout.height and max(len(line) for line in lines) <= layout.width


@pytest.mark.parametrize("zoom", [2, 3])
def test_compact_zooms_still_show_every_node(zoom: int) -> None:
    layout = compute_layout(example(), zoom=zoom)
    text = "\n".join(render_text(layout))
    drawn = Scene(layout).texts
    for node_id in EXAMPLE_ONE:
        assert node_id[:3] in text
        assert drawn[node_id] in text
    # store_primary and store_backup share their start: cut in the middle, they differ.
    assert len(set(drawn.values())) == len(drawn), drawn
    if zoom == 3:
        assert drawn["store_primary"] == "sto…ry" and drawn["store_backup"] == "sto…up"
    assert "true" in text and "false" in text  # a decision's branches stay named
    assert "▼" in text
    assert layout.height < compute_layout(example()).height


def test_distinct_texts_cut_alike_names_in_the_middle() -> None:
    shown = distinct_texts(
        {"a": ("store_primary", 6), "b": ("store_backup", 6), "c": ("notify", 6), "d": ("x", 2)}
    )
    assert shown == {"a": "sto…ry", "b": "sto…up", "c": "notify", "d": "x"}
    assert clip_middle("\x1b[31mred\x1b[0m" * 1000, 9).startswith("\\x1b")  # escaped, bounded
    assert clip_middle("日本語のノード名前です", 6) == "日…す"


def test_statuses_show_their_symbol_in_the_box() -> None:
    spec = example()
    statuses = dict(zip(EXAMPLE_ONE, STATUSES, strict=False))
    lines = render_text(compute_layout(spec), Decorations(statuses=statuses))
    for node_id, status in statuses.items():
        row = next(line for line in lines if node_id in line)
        assert STATUS_MARKS[status] in row.split(node_id, 1)[1][:4], (node_id, row)


def test_unknown_status_is_a_question_mark_not_a_crash() -> None:
    lines = render_text(compute_layout((["a"], [])), Decorations(statuses={"a": "exploded"}))
    assert "?" in "".join(lines)


def test_selection_marks_and_errors_are_visible_without_colour() -> None:
    layout = compute_layout(example())
    deco = Decorations(
        selected="transform",
        marked_nodes=frozenset({"notify"}),
        marked_edges=frozenset({"transform->quality_check"}),
        pending_source="validate",
    )
    lines = render_text(layout, deco)
    transform, notify, validate = (layout.boxes[n] for n in ("transform", "notify", "validate"))
    assert char_at(lines, transform.x, transform.y) == "╔"
    assert char_at(lines, notify.x, notify.y) == "┏"
    assert "✗" in lines[notify.y]
    assert char_at(lines, validate.x, validate.y) == "╔"
    assert char_at(lines, validate.x + 1, validate.y) == "●"
    edge = next(r for r in layout.routes if r.edge_id == "transform->quality_check")
    x, y = edge.points[0]
    assert char_at(lines, x, y) == "┃"


def test_viewport_is_a_window_onto_the_whole_canvas() -> None:
    layout = compute_layout(example())
    full = render_text(layout)
    scene = Scene(layout)
    strips = render_lines(scene, Decorations(), 10, 5, 20, 12)
    assert len(strips) == 12
    for offset, strip in enumerate(strips):
        assert cell_len(strip.text) == 20
        assert strip.text == full[5 + offset].ljust(layout.width)[10:30]
    # Past the canvas edges is blank, not an error.
    beyond = render_lines(scene, Decorations(), layout.width + 5, layout.height + 5, 10, 3)
    assert [s.text for s in beyond] == [" " * 10] * 3


def test_wide_and_control_characters_keep_rows_aligned() -> None:
    nodes = (CanvasNode("a", "処理データ"), CanvasNode("b", "tab\there"))
    layout = compute_layout(CanvasGraph(nodes, (CanvasEdge("a", "b", label="条件"),)))
    for strip in render_lines(Scene(layout), Decorations(), 0, 0, layout.width, layout.height):
        # Measure the text itself: a Strip trusts the length it is given.
        assert cell_len(strip.text) == layout.width
    assert fit("abcdef", 4) == ["a", "b", "c", "…"]
    assert fit("処理", 3) == ["処", "", "…"]
    assert fit("処理", 5) == ["処", "", "理", "", " "]


def test_hostile_labels_are_escaped_and_cut_without_moving_a_cell() -> None:
    huge = "\x1b[31m" + "x" * 10_000
    nodes = (CanvasNode("[/]", huge), CanvasNode("b", "\u202eevil"))
    edges = (CanvasEdge("[/]", "b", label="\x1b]0;t\x07[b]"),)
    for zoom in (1, 2, 3):
        layout = compute_layout(CanvasGraph(nodes, edges), zoom=zoom)
        rows = render_text(layout)
        assert not [c for row in rows for c in row if escape_of(c) is not None]
        for strip in render_lines(Scene(layout), Decorations(), 0, 0, layout.width, layout.height):
            assert cell_len(strip.text) == layout.width
    layout = compute_layout(CanvasGraph(nodes, edges))
    text = "\n".join(render_text(layout))
    assert layout.boxes["[/]"].w == 24  # the widest box, however long the name
    assert "\\x1b[31mxxxxxxxxx…" in text and "\\u202eevil" in text
    assert "\\x1b]0;t…" in text  # an edge label, cut before an escape rather than in it


def test_long_labels_are_truncated_with_an_ellipsis() -> None:
    layout = compute_layout(([CanvasNode("a", "a-very-long-node-name-that-goes-on-and-on")], []))
    assert "…" in "".join(render_text(layout))
    assert layout.boxes["a"].w == 24


def test_compensation_links_and_cycles_render() -> None:
    text = "\n".join(render_text(compute_layout(example("order-processing.yaml"))))
    assert "↺ release_inventory" in text and "╌▶" in text
    cyclic: Layout = compute_layout((["a", "b"], [("a", "b"), ("b", "a"), ("b", "b")]))
    text = "\n".join(render_text(cyclic))
    assert "▲" in text and "◀" in text
