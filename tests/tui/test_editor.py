"""The editing model alone (no Textual, no Redis): edits, undo/redo, validation, round trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.editor import Editor, spec_data_from_api
from orchestrator.errors import BadRequest, Conflict, NotFound, SpecInvalid
from orchestrator.spec.diff import compare, edge_key
from orchestrator.spec.export import spec_to_data
from orchestrator.spec.loader import load_file, load_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def pipeline() -> Editor:
    """fetch -> check (decision) -> ok / ko."""
    ed = Editor({"name": "Demo"})
    ed.add_node("task", node_id="fetch", handler="fetchData")
    ed.add_node("decision", node_id="check", condition="output.quality > 0.5")
    ed.add_node("task", node_id="ok", handler="storePrimary")
    ed.add_node("task", node_id="ko", handler="storeBackup")
    ed.connect("fetch", "check")
    ed.connect("check", "ok")
    ed.connect("check", "ko")
    return ed


def test_new_nodes_get_free_ids_and_type_defaults() -> None:
    ed = Editor()
    assert ed.add_node("task") == "task_1"
    assert ed.add_node("task") == "task_2"
    assert ed.add_node("delay") == "delay_1"
    assert ed.node("delay_1")["duration"] == "1m"
    assert ed.add_node("parallel", position=(4, 6)) == "parallel_1"
    assert ed.node("parallel_1") == {
        "id": "parallel_1", "type": "parallel", "join": "all", "position": {"x": 4, "y": 6}
    }  # fmt: skip
    assert ed.dirty


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda ed: ed.add_node("robot"), BadRequest),
        (lambda ed: ed.add_node("task", node_id="fetch"), Conflict),
        (lambda ed: ed.add_node("task", node_id="bad id!"), BadRequest),
        (lambda ed: ed.connect("fetch", "nowhere"), NotFound),
        (lambda ed: ed.connect("fetch", "fetch"), BadRequest),
        (lambda ed: ed.connect("fetch", "check"), Conflict),
        (lambda ed: ed.remove_node("ghost"), NotFound),
        (lambda ed: ed.disconnect("a->b"), NotFound),
        (lambda ed: ed.set_property("fetch", "type", "delay"), BadRequest),
        (lambda ed: ed.rename_node("fetch", "check"), Conflict),
        (lambda ed: ed.set_edge_property("fetch->check", "weight", 3), BadRequest),
        (lambda ed: ed.set_workflow_property("nodes", []), BadRequest),
    ],
)
def test_bad_edits_are_clear_errors_and_change_nothing(call: object, error: type) -> None:
    ed = pipeline()
    before = ed.to_data()
    with pytest.raises(error):
        call(ed)  # type: ignore[operator]
    assert ed.to_data() == before


def test_a_decisions_edges_take_true_then_false() -> None:
    ed = pipeline()
    conditions = {e["target"]: e.get("condition") for e in ed.outgoing("check")}
    assert conditions == {"ok": True, "ko": False}
    assert ed.validate().valid


def test_rename_follows_edges_and_compensation_links() -> None:
    ed = pipeline()
    ed.add_node("compensation", node_id="undo_fetch", handler="releaseInventory")
    ed.set_property("fetch", "compensation", "undo_fetch")
    ed.rename_node("fetch", "load")
    assert ("load", "check") in [(e["source"], e["target"]) for e in ed.edges]
    assert ed.node("load")["compensation"] == "undo_fetch"
    ed.rename_node("undo_fetch", "unload")
    assert ed.node("load")["compensation"] == "unload"
    assert ed.validate().valid


def test_remove_node_takes_its_edges_and_links() -> None:
    ed = pipeline()
    ed.add_node("compensation", node_id="undo", handler="h", compensates="fetch")
    ed.remove_node("fetch")
    assert [edge_key(e) for e in ed.edges] == ["check->ok", "check->ko"]
    assert "compensates" not in ed.node("undo")


def test_undo_and_redo_walk_the_history() -> None:
    ed = Editor({"name": "W"})
    assert not ed.can_undo and not ed.undo()
    ed.add_node("task", node_id="a", handler="h")
    ed.add_node("task", node_id="b", handler="h")
    ed.connect("a", "b")
    ed.move_node("b", 10, 12)
    assert ed.undo() and ed.node("b").get("position") is None
    assert ed.undo() and ed.edges == []
    assert ed.redo() and len(ed.edges) == 1
    assert ed.can_redo
    ed.set_property("a", "timeout", "30s")  # a new edit drops the redo history
    assert not ed.can_redo
    while ed.undo():
        pass
    assert ed.node_ids() == []


def test_modified_is_a_difference_from_the_loaded_or_saved_data() -> None:
    ed = Editor({"name": "W", "nodes": [{"id": "a", "type": "task", "handler": "h"}]})
    assert not ed.dirty
    ed.set_property("a", "timeout", "30s")
    assert ed.dirty
    ed.set_property("a", "timeout", None)  # edited back by hand: the same content
    assert not ed.dirty
    ed.add_node("task", node_id="b", handler="h")
    assert ed.undo() and not ed.dirty
    assert ed.redo() and ed.dirty
    sent = ed.to_data()
    ed.move_node("b", 3, 4)  # an edit while the save is under way stays a change
    ed.mark_saved(workflow_id="w", version=2, saved=sent)
    assert ed.dirty
    assert ed.undo() and not ed.dirty  # the saved state
    ed.set_baseline(None)  # nothing stored (an import): modified until saved
    assert ed.dirty


def test_setting_the_same_value_is_not_an_edit() -> None:
    ed = pipeline()
    depth = len(ed._undo)
    ed.set_property("fetch", "handler", "fetchData")
    ed.move_node("fetch", 1, 1)
    ed.move_node("fetch", 1, 1)
    assert len(ed._undo) == depth + 1


def test_empty_value_removes_a_property() -> None:
    ed = pipeline()
    ed.set_property("fetch", "timeout", "60s")
    ed.set_property("fetch", "timeout", "")
    assert "timeout" not in ed.node("fetch")
    ed.set_edge_property("check->ok", "condition", None)
    assert "condition" not in ed.edge("check->ok")


def test_read_only_refuses_edits() -> None:
    ed = Editor(pipeline().to_data(), read_only=True)
    with pytest.raises(Conflict):
        ed.add_node("task")
    with pytest.raises(Conflict):
        ed.move_node("fetch", 3, 3)


def test_incomplete_designs_validate_and_draw() -> None:
    ed = Editor({"name": "W"})
    ed.add_node("task")  # no handler yet
    ed.add_node("decision")  # no condition yet
    ed.connect("task_1", "decision_1")
    result = ed.validate()
    assert {e.node_id for e in result.errors} == {"task_1", "decision_1"}
    graph = ed.canvas_graph()
    assert [n.id for n in graph.nodes] == ["task_1", "decision_1"]
    assert [e.key for e in graph.edges] == ["task_1->decision_1"]
    with pytest.raises(SpecInvalid):
        ed.to_spec()


def test_a_cycle_is_reported_on_its_nodes() -> None:
    ed = pipeline()
    ed.connect("ok", "fetch")
    codes = {e.code for e in ed.validate().errors}
    assert "CYCLE" in codes


def test_round_trip_through_yaml_keeps_the_graph_and_positions(tmp_path: Path) -> None:
    ed = pipeline()
    drawn = {"fetch": (10, 0), "check": (10, 5), "ok": (0, 10), "ko": (20, 10)}
    ed.move_node("fetch", 12, 0)  # a moved node keeps its own position
    text = ed.export("yaml", positions=drawn)
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    # the command line accepts it
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagq"), "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid (4 nodes, 3 edges)" in done.stdout
    again = Editor.from_spec(load_file(path))
    assert again.canvas_graph() == Editor(ed.to_data(drawn)).canvas_graph()
    positions = {n.id: n.position for n in again.canvas_graph().nodes}
    assert positions == {**drawn, "fetch": (12, 0)}
    assert again.to_spec() == ed.to_spec(drawn)


def test_round_trip_of_the_seed_examples() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        spec = load_file(path)
        ed = Editor.from_spec(spec)
        assert load_text(ed.export("json"), fmt="json") == spec
        assert ed.validate().valid


def test_api_record_fields_are_dropped() -> None:
    spec = load_file(EXAMPLES / "data-pipeline.yaml")
    record = {**spec.model_dump(mode="json"), "status": "draft", "createdAt": "x", "version": 3}
    data = spec_data_from_api(record)
    assert "status" not in data and "createdAt" not in data
    assert data == spec_to_data(spec.model_copy(update={"version": 3}))


def test_compare_versions() -> None:
    old = pipeline().to_data()
    ed = Editor(old)
    ed.remove_node("ko")
    ed.add_node("task", node_id="alert", handler="sendNotification")
    ed.connect("check", "alert")
    ed.set_property("fetch", "timeout", "5s")
    ed.move_node("ok", 40, 40)  # moving is not a change
    union, diff = compare(old, ed.to_data())
    assert diff == {"ko": "removed", "alert": "added", "fetch": "changed", "check": "changed"}
    assert {n["id"] for n in union["nodes"]} == {"fetch", "check", "ok", "ko", "alert"}
    assert "check->ko" in {edge_key(e) for e in union["edges"]}


def test_simulated_behaviour_follows_renames_and_deletes() -> None:
    ed = Editor.from_spec(load_file(EXAMPLES / "data-pipeline.yaml"))
    ed.set_simulated("validate", "sim_fails", "fails")
    assert ed.to_data()["metadata"]["simulation"]["validate"]["fails"] == "simulated failure"
    ed.rename_node("transform", "shape")
    table = ed.to_data()["metadata"]["simulation"]
    assert "transform" not in table and table["shape"]["output"]["quality"] == 0.97
    ed.remove_node("shape")
    assert "shape" not in ed.to_data()["metadata"]["simulation"]
    ed.undo()
    assert "shape" in ed.to_data()["metadata"]["simulation"]
    for node in ("fetch_data", "validate", "shape"):  # every setting removed: no metadata
        ed.set_simulated(node, "sim_output", None)
        ed.set_simulated(node, "sim_fails", None)
    assert "metadata" not in ed.to_data()
    with pytest.raises(NotFound):
        ed.set_simulated("nobody", "sim_fails", "fails")
