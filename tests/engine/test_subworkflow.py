"""The sub-workflow kind over the pure transitions: the child request, its start, the
parent told of a child's end, children cancelled with their parent, validation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orchestrator.engine.commands import Command, PostInbox
from orchestrator.engine.events import ChildStarted, NodeSucceeded
from orchestrator.protocol import InboxMessage
from orchestrator.spec.validator import validate_data
from tests.engine.helpers import Run, edge, task


def _posted(commands: list[Command]) -> list[InboxMessage]:
    return [c.message for c in commands if isinstance(c, PostInbox)]


SPEC: dict[str, Any] = {
    "nodes": [
        task("a"),
        {"id": "ship", "type": "subworkflow", "workflow": "shipping",
         "params": {"order": "output.order", "rush": "params.rush"}},
        task("z"),
    ],
    "edges": [edge("a", "ship"), edge("ship", "z")],
}  # fmt: skip


def test_ready_asks_for_the_child_with_its_parameters_then_waits_for_it() -> None:
    run = Run(SPEC, {"rush": True})
    cmds = run.succeed("a", {"order": "o-1"})
    (msg,) = _posted(cmds)
    assert msg.type == "child" and msg.run == "r1" and msg.node == "ship"
    assert msg.output is not None
    assert msg.output["params"] == {"order": "o-1", "rush": True}
    assert msg.output["workflow"] == "shipping" and msg.output["ancestry"] == ["wf"]
    assert run.status("ship") == "queued"
    token = run.token("ship")
    run.send(ChildStarted("ship", token, run.tick(), "child-1"))
    assert run.status("ship") == "running" and run.node("ship").child == "child-1"
    run.send(NodeSucceeded("ship", token, run.tick(), {"label": "L", "run_id": "child-1"}))
    assert run.status("ship") == "completed"
    assert run.job("z").input == {"label": "L", "run_id": "child-1"}


def test_cancelling_the_parent_posts_a_cancel_for_the_child() -> None:
    run = Run(SPEC)
    run.succeed("a", {"order": "o-1"})
    run.send(ChildStarted("ship", run.token("ship"), run.tick(), "child-1"))
    (msg,) = _posted(run.cancel())
    assert (msg.type, msg.run) == ("cancel", "child-1")
    assert "parent run r1" in (msg.error or "")


def test_a_child_run_tells_its_parent_when_it_ends() -> None:
    parent = {"runId": "p1", "nodeId": "ship", "token": "0.1"}
    child = Run({"nodes": [task("only")]}, run_id="c1")
    child.state = replace(child.state, meta={"parent": parent})
    (msg,) = _posted(child.succeed("only", {"label": "L"}))
    assert (msg.type, msg.run, msg.node, msg.token) == ("succeeded", "p1", "ship", "0.1")
    assert msg.output == {"label": "L", "run_id": "c1"}


def test_a_parameter_that_cannot_be_evaluated_fails_the_node() -> None:
    a, ship, z = SPEC["nodes"]
    spec = {**SPEC, "nodes": [a, {**ship, "params": {"x": "output.o + 1"}}, z]}
    run = Run(spec)
    run.succeed("a", {"o": "text"})
    assert run.status("ship") == "failed"
    assert "parameter x" in (run.node("ship").last_error or "")


def test_validation_refuses_a_workflow_that_starts_itself() -> None:
    spec = {"id": "wf", "name": "wf",
            "nodes": [{"id": "me", "type": "subworkflow", "workflow": "wf"}]}  # fmt: skip
    (issue,) = validate_data(spec).errors
    assert issue.code == "SUBWORKFLOW_SELF" and issue.node_id == "me"
    bad = {"id": "wf", "name": "wf",
           "nodes": [{"id": "s", "type": "subworkflow", "workflow": "x",
                      "params": {"p": "+"}}]}  # fmt: skip
    assert [i.code for i in validate_data(bad).errors] == ["BAD_EXPRESSION"]


def test_a_cancelling_join_stops_a_losing_map_and_a_losing_sub_workflow() -> None:
    """Issue 13's cancel_remaining meets issue 14's kinds: the losers' items are cancelled
    and their child runs are told to stop, like a cancelled run's."""
    from orchestrator.engine.events import SignalSent
    from orchestrator.engine.state import item_key

    run = Run(
        {
            "nodes": [
                task("a"),
                {"id": "paid", "type": "signal", "signal": "paid"},
                {"id": "m", "type": "map", "items": "output.records", "workflow": "enrich"},
                {"id": "ship", "type": "subworkflow", "workflow": "shipping"},
                {"id": "first", "type": "parallel", "join": "any", "cancel_remaining": True},
                task("z"),
            ],
            "edges": [
                edge("a", "paid"), edge("a", "m"), edge("a", "ship"),
                edge("paid", "first"), edge("m", "first"), edge("ship", "first"),
                edge("first", "z"),
            ],
        }
    )  # fmt: skip
    run.succeed("a", {"records": [1, 2, 3]})
    run.send(ChildStarted("ship", run.token("ship"), run.tick(), "child-ship"))
    first = item_key("m", 0)
    token = run.state.items[first].token
    assert token is not None
    run.send(ChildStarted(first, token, run.tick(), "child-item-0"))
    cmds = run.send(SignalSent("paid", run.tick(), {}))
    assert run.status("m") == "cancelled" and run.status("ship") == "cancelled"
    items = [run.state.items[item_key("m", i)].status for i in range(3)]
    assert items == ["cancelled"] * 3
    progress = run.node("m").progress
    assert progress is not None and progress["active"] == 0
    cancels = sorted(m.run for m in _posted(cmds) if m.type == "cancel")
    assert cancels == ["child-item-0", "child-ship"]
    assert run.status("z") == "queued"
