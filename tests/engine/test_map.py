"""The map kind over the pure transitions: fan-out, parallelism cap, failures, retries."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import NodeFailed, NodeStarted, NodeSucceeded, TimerFired
from orchestrator.engine.retry import RetryRule
from orchestrator.engine.simulate import simulate
from orchestrator.engine.state import NodeState, item_key
from orchestrator.engine.transitions import apply
from orchestrator.spec.graph import compile_graph
from orchestrator.spec.loader import load_text
from orchestrator.spec.validator import validate_data
from orchestrator.vocab import IN_FLIGHT
from tests.engine.helpers import Run, dispatched, edge, finished, task
from tests.engine.test_examples import EXAMPLES

NO_RETRY = EngineConfig(retry=RetryRule(max_attempts=1), max_parallel=100)


def _spec(**map_fields: Any) -> dict[str, Any]:
    node = {"id": "m", "type": "map", "items": "output.records", "handler": "per", **map_fields}
    return {
        "nodes": [task("a"), node, task("z")],
        "edges": [edge("a", "m"), edge("m", "z")],
    }


def _item(run: Run, index: int) -> NodeState:
    return run.state.items[item_key("m", index)]


def _active(run: Run) -> int:
    return sum(1 for key, st in run.state.items.items() if st.status in IN_FLIGHT)


def _finish(run: Run, index: int, output: dict[str, Any] | None = None) -> None:
    key = item_key("m", index)
    token = _item(run, index).token
    assert token is not None
    run.send(NodeStarted(key, token, run.tick(), worker="w1"))
    run.send(NodeSucceeded(key, token, run.tick(), output or {"i": index}))


def _fail(run: Run, index: int, error: str = "bad record") -> None:
    key = item_key("m", index)
    token = _item(run, index).token
    assert token is not None
    run.send(NodeFailed(key, token, run.tick(), error))


def test_zero_items_complete_the_map_at_once() -> None:
    run = Run(_spec())
    cmds = run.succeed("a", {"records": []})
    assert run.status("m") == "completed"
    assert run.node("m").output == {"results": [], "failed": []}
    assert [j.node for j in dispatched(cmds)] == ["z"]


def test_one_item_gets_item_and_index_over_the_map_input_without_the_list() -> None:
    run = Run(_spec())
    cmds = run.succeed("a", {"records": [{"id": 7}], "batch": "b1"})
    (job,) = dispatched(cmds)
    assert job.node == "m[0]" and job.handler == "per"
    assert job.input == {"item": {"id": 7}, "index": 0, "batch": "b1"}
    assert run.status("m") == "running"
    assert run.node("m").progress == {"total": 1, "done": 0, "failed": 0, "active": 1, "next": 1}
    _finish(run, 0, {"ok": 7})
    assert run.node("m").output == {"results": [{"ok": 7}], "failed": []}
    assert run.job("z").input == {"results": [{"ok": 7}], "failed": []}


def test_a_thousand_items_never_exceed_max_parallel_and_keep_their_order() -> None:
    run = Run(_spec(max_parallel=7), config=NO_RETRY)
    run.succeed("a", {"records": list(range(1000))})
    peak = _active(run)
    order: list[int] = []
    # Finish the items out of order (newest active first) to check that results keep
    # item order regardless.
    while run.status("m") == "running":
        active = sorted(
            (int(k[2:-1]) for k, st in run.state.items.items() if st.status in IN_FLIGHT),
            reverse=True,
        )
        _finish(run, active[0], {"v": active[0] * 2})
        order.append(active[0])
        peak = max(peak, _active(run))
    assert peak == 7
    assert sorted(order) == list(range(1000))
    out = run.node("m").output or {}
    assert out["results"] == [{"v": i * 2} for i in range(1000)]
    assert run.node("m").progress == {
        "total": 1000,
        "done": 1000,
        "failed": 0,
        "active": 0,
        "next": 1000,
    }


def test_a_stale_or_repeated_item_result_is_applied_once() -> None:
    run = Run(_spec(), config=NO_RETRY)
    run.succeed("a", {"records": [1, 2]})
    token = _item(run, 0).token
    assert token is not None
    _finish(run, 0)
    before = run.state
    after, cmds = apply(
        run.graph, before, NodeSucceeded("m[0]", token, run.tick(), {"again": 1}), run.cfg
    )
    assert after is before and cmds == []
    after, cmds = apply(run.graph, before, NodeSucceeded("m[1]", "0.9", run.tick(), {}), run.cfg)
    assert after is before and cmds == []
    assert (run.node("m").progress or {}).get("done") == 1


def test_failures_within_tolerance_give_null_results_and_the_failed_list() -> None:
    run = Run(_spec(tolerate_failures=2), config=NO_RETRY)
    run.succeed("a", {"records": [0, 1, 2, 3]})
    _fail(run, 1, "no 1")
    _finish(run, 0)
    _fail(run, 3, "no 3")
    _finish(run, 2)
    assert run.status("m") == "completed"
    assert run.node("m").output == {
        "results": [{"i": 0}, None, {"i": 2}, None],
        "failed": [{"index": 1, "error": "no 1"}, {"index": 3, "error": "no 3"}],
    }
    assert "item_failed" in run.events()


def test_one_failure_above_tolerance_fails_the_map_and_cancels_its_items() -> None:
    run = Run(_spec(tolerate_failures=1, max_parallel=3), config=NO_RETRY)
    run.succeed("a", {"records": list(range(10))})
    _fail(run, 0)
    assert run.status("m") == "running"
    _fail(run, 1, "second")
    assert run.status("m") == "failed"
    assert "2 of 10 items failed" in (run.node("m").last_error or "")
    assert "item 1: second" in (run.node("m").last_error or "")
    assert _item(run, 2).status == "cancelled"
    assert run.run_status() == "failed"
    assert finished(run.history) == ["failed"]


def test_items_retry_with_backoff_before_they_fail() -> None:
    cfg = EngineConfig(retry=RetryRule(max_attempts=3, initial_s=1.0), max_parallel=10)
    run = Run(_spec(), config=cfg)
    run.succeed("a", {"records": ["x"]})
    _fail(run, 0, "flaky")
    assert _item(run, 0).status == "waiting"
    due = _item(run, 0).due_ms
    assert due is not None
    token = _item(run, 0).token
    assert token is not None
    cmds = run.send(TimerFired("m[0]", token, due))
    (job,) = dispatched(cmds)
    assert job.node == "m[0]" and job.attempt == 2
    _finish(run, 0, {"second": True})
    assert run.node("m").output == {"results": [{"second": True}], "failed": []}
    assert run.events().count("item_retrying") == 1


def test_retrying_a_failed_map_runs_only_its_failed_items() -> None:
    run = Run(_spec(), config=NO_RETRY)
    run.succeed("a", {"records": [0, 1, 2]})
    _finish(run, 0)
    _fail(run, 1)
    assert run.run_status() == "failed"
    cmds = run.retry()
    assert sorted(j.node for j in dispatched(cmds)) == ["m[1]", "m[2]"]
    assert run.node("m").progress == {"total": 3, "done": 1, "failed": 0, "active": 2, "next": 3}
    _finish(run, 1)
    _finish(run, 2)
    assert run.status("m") == "completed"
    assert (run.node("m").output or {})["results"] == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_retrying_from_upstream_evaluates_the_list_again() -> None:
    run = Run(_spec(), config=NO_RETRY)
    run.succeed("a", {"records": [0, 1]})
    _finish(run, 0)
    _fail(run, 1)
    run.retry("a")
    run.succeed("a", {"records": [5]})
    assert run.node("m").progress == {"total": 1, "done": 0, "failed": 0, "active": 1, "next": 1}
    assert _item(run, 0).input == {"item": 5, "index": 0}


def test_cancelling_the_run_cancels_active_items_and_ignores_their_results() -> None:
    run = Run(_spec(max_parallel=2), config=NO_RETRY)
    run.succeed("a", {"records": [0, 1, 2]})
    token = _item(run, 0).token
    assert token is not None
    run.cancel()
    assert [_item(run, i).status for i in range(3)] == ["cancelled"] * 3
    before = run.state
    after, cmds = apply(run.graph, before, NodeSucceeded("m[0]", token, run.tick(), {}), run.cfg)
    assert after is before and cmds == []


@pytest.mark.parametrize(
    ("records", "why"),
    [("text", "gave str, not a list"), (None, "gave null"), (list(range(4)), "at most 3")],
)
def test_a_list_that_is_not_one_or_too_long_fails_the_node(records: Any, why: str) -> None:
    run = Run(_spec(max_items=3))
    run.succeed("a", {"records": records})
    assert run.status("m") == "failed"
    assert why in (run.node("m").last_error or "")


def _codes(node: dict[str, Any]) -> list[str]:
    spec = {"id": "wf", "name": "wf", "nodes": [node]}
    return [issue.code for issue in validate_data(spec).errors]


def test_validation_codes() -> None:
    base = {"id": "m", "type": "map", "items": "output.x"}
    assert _codes({**base, "handler": "h"}) == []
    assert _codes(base) == ["MAP_TARGET"]
    assert _codes({**base, "handler": "h", "workflow": "w"}) == ["MAP_TARGET"]
    assert _codes({**base, "workflow": "wf"}) == ["SUBWORKFLOW_SELF"]
    assert _codes({**base, "items": "output.x +", "handler": "h"}) == ["BAD_EXPRESSION"]


def test_an_item_starting_is_a_change_the_store_writes() -> None:
    run = Run(_spec(), config=NO_RETRY)
    run.succeed("a", {"records": [1]})
    token = _item(run, 0).token
    assert token is not None
    before = run.state
    after, _ = apply(run.graph, before, NodeStarted("m[0]", token, run.tick(), "w9"), run.cfg)
    assert after is not before
    assert after.items["m[0]"].status == "running" and after.items["m[0]"].worker == "w9"


def test_simulate_runs_the_batch_example_with_a_simulated_list() -> None:
    text = (EXAMPLES / "batch-records.yaml").read_text()
    spec = load_text(text, filename="batch-records.yaml")
    records = [{"id": i} for i in range(5)]
    sim = simulate(
        compile_graph(spec),
        outcomes={
            "load": {"records": records},
            "per_record": {"ok": True},
            "per_record[3]": "bad record",
            "summarize": {"processed": 4, "failed": 1},
        },
    )
    assert sim.state.status == "completed"
    out = sim.state.nodes["per_record"].output or {}
    assert out["results"] == [{"ok": True}] * 3 + [None, {"ok": True}]
    assert out["failed"] == [{"index": 3, "error": "bad record"}]
    assert sim.state.nodes["alert"].status == "completed"  # both inclusive branches
    assert sim.state.nodes["archive"].status == "completed"
