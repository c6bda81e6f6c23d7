"""Approval and signal nodes, and joins that cancel the losing branches (pure engine)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engine.commands import Emit
from orchestrator.engine.events import Decided, SignalSent
from orchestrator.errors import Conflict, Forbidden, NotFound

from .helpers import Run, dispatched_nodes, edge, emitted, task, timers


def approval(**extra: Any) -> dict[str, Any]:
    return {"id": "ok", "type": "approval", "message": "Refund {{ params.amount }}?", **extra}


def approval_run(**extra: Any) -> Run:
    return Run(
        {
            "nodes": [task("a"), approval(**extra), task("pay"), task("tell")],
            "edges": [
                edge("a", "ok"),
                edge("ok", "pay", condition=True),
                edge("ok", "tell", condition=False),
            ],
        },
        {"amount": 40},
    )


def decide(run: Run, by: str, approve: bool = True, role: str | None = "workflow_operator",
           comment: str = "") -> list[Any]:  # fmt: skip
    return run.send(Decided("ok", run.tick(), by, role, approve, comment))


def test_an_approval_waits_with_its_message_then_takes_the_true_edge() -> None:
    run = approval_run()
    cmds = run.succeed("a", {"x": 1})
    assert run.status("ok") == "waiting"
    assert emitted(cmds)[-1] == "approval_requested"
    [requested] = [c for c in cmds if isinstance(c, Emit) and c.type == "approval_requested"]
    assert requested.data["message"] == "Refund 40?"
    assert timers(cmds) == []  # no timeout, no timer
    cmds = decide(run, "alice", comment="fine")
    assert run.status("ok") == "completed"
    assert dispatched_nodes(cmds) == ["pay"]
    out = run.node("ok").output or {}
    assert out["approved"] is True
    assert [(d["by"], d["approved"], d["comment"]) for d in out["decisions"]] == [
        ("alice", True, "fine")
    ]
    run.succeed("pay")
    assert run.status("tell") == "skipped"
    assert run.run_status() == "completed"


def test_one_rejection_rejects_even_when_two_approvals_are_required() -> None:
    run = approval_run(required=2)
    run.succeed("a")
    decide(run, "alice")
    assert run.status("ok") == "waiting"
    cmds = decide(run, "bob", approve=False, comment="too much")
    assert dispatched_nodes(cmds) == ["tell"]
    assert (run.node("ok").output or {})["approved"] is False


def test_two_approvers_are_needed_and_one_person_counts_once() -> None:
    run = approval_run(required=2)
    run.succeed("a")
    decide(run, "alice")
    with pytest.raises(Conflict, match="alice already approved") as info:
        decide(run, "alice")
    assert info.value.code == "ALREADY_DECIDED"
    assert run.status("ok") == "waiting"
    cmds = decide(run, "bob")
    assert dispatched_nodes(cmds) == ["pay"]


def test_only_the_named_approvers_may_decide() -> None:
    run = approval_run(approvers={"roles": ["workflow_admin"], "users": ["otto"]})
    run.succeed("a")
    with pytest.raises(Forbidden, match="only role workflow_admin or user otto"):
        decide(run, "olga", role="workflow_operator")
    decide(run, "otto", role="workflow_operator")
    assert run.status("ok") == "completed"


@pytest.mark.parametrize(
    ("on_timeout", "status", "next_node"),
    [("approve", "completed", "pay"), ("reject", "completed", "tell"), ("fail", "failed", None)],
)
def test_a_timeout_applies_on_timeout(on_timeout: str, status: str, next_node: str | None) -> None:
    run = approval_run(timeout="1h", on_timeout=on_timeout)
    cmds = run.succeed("a")
    [timer] = timers(cmds)
    assert timer.due_ms == run.now + 3_600_000
    cmds = run.fire("ok")
    assert emitted(cmds)[0] == "node_timed_out"
    assert run.status("ok") == status
    if next_node is None:
        assert run.run_status() == "failed"
    else:
        assert dispatched_nodes(cmds) == [next_node]
        assert (run.node("ok").output or {})["timed_out"] is True


def test_a_decision_after_the_timeout_is_refused_with_the_reason() -> None:
    run = approval_run(timeout="1m")
    run.succeed("a")
    due = run.node("ok").due_ms
    assert due is not None
    with pytest.raises(Conflict, match="timed out at") as info:
        run.send(Decided("ok", due, "alice", None, True))  # the timer has not fired yet
    assert info.value.code == "TIMED_OUT"
    run.fire("ok")
    with pytest.raises(Conflict, match="timed out at"):
        decide(run, "alice")
    # and the timer of a node decided in time is stale
    run2 = approval_run(timeout="1m")
    run2.succeed("a")
    token = run2.token("ok")
    decide(run2, "alice")
    from orchestrator.engine.events import TimerFired

    from .helpers import assert_unchanged

    assert_unchanged(run2, TimerFired("ok", token, run2.now + 60_000))


def test_decisions_are_refused_for_ended_runs_unknown_and_pending_steps() -> None:
    run = approval_run()
    with pytest.raises(Conflict, match="not waiting yet"):
        decide(run, "alice")
    with pytest.raises(NotFound, match="no step 'nope'"):
        run.send(Decided("nope", run.tick(), "alice", None, True))
    with pytest.raises(NotFound, match="a task step, not an approval"):
        run.send(Decided("a", run.tick(), "alice", None, True))
    run.cancel()
    with pytest.raises(Conflict, match="is cancelled") as info:
        decide(run, "alice")
    assert info.value.code == "RUN_ENDED"


def test_retrying_from_an_approval_asks_again() -> None:
    run = approval_run()
    run.succeed("a")
    decide(run, "alice", approve=False)
    run.fail_for_good("tell")
    assert run.run_status() == "failed"
    cmds = run.retry(from_node="ok")
    assert run.status("ok") == "waiting"
    assert run.node("ok").decisions == ()
    assert "approval_requested" in emitted(cmds)


def signal_run(**extra: Any) -> Run:
    return Run(
        {
            "nodes": [task("a"), {"id": "paid", "type": "signal", "signal": "payment", **extra},
                      task("b")],
            "edges": [edge("a", "paid"), edge("paid", "b")],
        }
    )  # fmt: skip


def test_a_signal_completes_its_waiting_node_with_the_payload() -> None:
    run = signal_run()
    run.succeed("a")
    assert run.status("paid") == "waiting"
    cmds = run.send(SignalSent("payment", run.tick(), {"amount": 3}))
    assert emitted(cmds)[:2] == ["signal_received", "node_completed"]
    assert run.job("b").input == {"amount": 3}


def test_an_early_signal_is_kept_and_consumed_when_the_node_is_reached() -> None:
    run = signal_run()
    cmds = run.send(SignalSent("payment", run.tick(), {"n": 1}))
    assert emitted(cmds) == ["signal_received"]
    assert run.state.signals == {"payment": ({"n": 1},)}
    cmds = run.succeed("a")
    assert run.status("paid") == "completed"
    assert run.state.signals == {}
    assert run.job("b").input == {"n": 1}


def test_late_and_unknown_signals_are_refused() -> None:
    run = signal_run()
    with pytest.raises(NotFound, match=r"never waits for signal 'other'.*payment"):
        run.send(SignalSent("other", run.tick(), {}))
    run.succeed("a")
    run.send(SignalSent("payment", run.tick(), {}))
    with pytest.raises(Conflict, match="waits for signal 'payment' any more"):
        run.send(SignalSent("payment", run.tick(), {}))
    run.succeed("b")
    with pytest.raises(Conflict, match="is completed") as info:
        run.send(SignalSent("payment", run.tick(), {}))
    assert info.value.code == "RUN_ENDED"


@pytest.mark.parametrize(("on_timeout", "status"), [("fail", "failed"), ("continue", "completed")])
def test_a_signal_timeout(on_timeout: str, status: str) -> None:
    run = signal_run(timeout="10m", on_timeout=on_timeout)
    run.succeed("a")
    run.fire("paid")
    assert run.status("paid") == status
    if status == "completed":
        assert run.job("b").input == {"timed_out": True}
    else:
        assert run.run_status() == "failed"


def deferred_choice() -> Run:
    return Run(
        {
            "nodes": [
                {"id": "fork", "type": "parallel"},
                {"id": "paid", "type": "signal", "signal": "paid"},
                {"id": "slow", "type": "signal", "signal": "cancelled"},
                task("work"),
                {"id": "first", "type": "parallel", "join": "any", "cancel_remaining": True},
                task("after"),
            ],
            "edges": [
                edge("fork", "paid"), edge("fork", "slow"), edge("fork", "work"),
                edge("paid", "first"), edge("slow", "first"), edge("work", "first"),
                edge("first", "after"),
            ],
        }
    )  # fmt: skip


def test_a_join_with_cancel_remaining_cancels_the_losing_branches() -> None:
    run = deferred_choice()
    assert run.status("work") == "queued"
    cmds = run.send(SignalSent("paid", run.tick(), {"via": "card"}))
    assert run.status("slow") == "cancelled" and run.status("work") == "cancelled"
    assert emitted(cmds).count("branch_cancelled") == 2
    assert dispatched_nodes(cmds) == ["after"]
    assert run.job("after").input == {"via": "card"}
    with pytest.raises(Conflict, match="cancelled"):
        run.send(SignalSent("cancelled", run.tick(), {}))
    run.succeed("after")
    assert run.run_status() == "completed"


def test_cancel_remaining_on_an_all_join_is_refused_by_the_validator() -> None:
    from orchestrator.spec.validator import validate_data

    spec = {
        "id": "w", "name": "w",
        "nodes": [{"id": "f", "type": "parallel"}, task("a"), task("b"),
                  {"id": "j", "type": "parallel", "cancel_remaining": True}],
        "edges": [edge("f", "a"), edge("f", "b"), edge("a", "j"), edge("b", "j")],
    }  # fmt: skip
    codes = [e.code for e in validate_data(spec).errors]
    assert codes == ["CANCEL_REMAINING"]


@pytest.mark.parametrize(
    ("node", "code", "words"),
    [
        ({"approvers": {"roles": ["boss"]}}, "APPROVERS", "unknown role 'boss'"),
        ({"approvers": {"users": ["a"]}, "required": 2}, "APPROVERS", "requires 2 approvals"),
        ({"message": "x {{ params. }}"}, "BAD_TEMPLATE", "message template"),
        ({"message": "x {{ params.a"}, "BAD_TEMPLATE", "not closed"),
    ],
)
def test_approval_fields_are_validated(node: dict[str, Any], code: str, words: str) -> None:
    from orchestrator.spec.validator import validate_data

    spec = {
        "id": "w", "name": "w",
        "nodes": [{"id": "ok", "type": "approval", **node}, task("a")],
        "edges": [edge("ok", "a", condition=True)],
    }  # fmt: skip
    errors = validate_data(spec).errors
    assert [e.code for e in errors] == [code], errors
    assert words in errors[0].message


def test_approvals_signals_timeouts_and_cancelled_branches_replay_exactly() -> None:
    from .test_replay import RecordedRun

    run = RecordedRun(
        {
            "nodes": [
                task("a"),
                approval(required=2, approvers={"users": ["ann", "bob"]}),
                {"id": "fork", "type": "parallel"},
                {"id": "s1", "type": "signal", "signal": "one"},
                {"id": "s2", "type": "signal", "signal": "two", "timeout": "1m"},
                {"id": "j", "type": "parallel", "join": "any", "cancel_remaining": True},
                {"id": "late", "type": "signal", "signal": "late", "timeout": "1m",
                 "on_timeout": "continue"},
            ],
            "edges": [
                edge("a", "ok"), edge("ok", "fork", condition=True), edge("fork", "s1"),
                edge("fork", "s2"), edge("s1", "j"), edge("s2", "j"), edge("j", "late"),
            ],
        }
    )  # fmt: skip
    run.send(SignalSent("one", run.tick(), {"early": 1}))
    run.succeed("a")
    run.send(Decided("ok", run.tick(), "ann", None, True, "yes"))
    run.send(Decided("ok", run.tick(), "bob", "workflow_admin", True, ""))
    assert run.status("s2") == "cancelled" and run.status("late") == "waiting"
    run.fire("late")
    assert run.run_status() == "completed"
    run.check()


@pytest.mark.parametrize(
    ("choices", "status", "ran"),
    [
        ({}, "completed", "pay"),
        ({"ok": "reject"}, "completed", "tell"),
        ({"ok": "timeout"}, "completed", "tell"),  # on_timeout: reject
    ],
)
def test_simulate_plays_the_approvers(choices: dict[str, str], status: str, ran: str) -> None:
    from orchestrator.engine.simulate import simulate

    run = approval_run(required=2, timeout="1h")
    sim = simulate(run.graph, {"amount": 1}, choices=choices)
    assert sim.state.status == status
    assert sim.state.nodes[ran].status == "completed"


def test_simulate_chooses_which_signal_arrives_first() -> None:
    from orchestrator.engine.simulate import simulate

    graph = deferred_choice().graph
    sim = simulate(graph, choices={"paid": "never", "slow": {"why": "x"}})
    assert sim.state.status == "completed"
    assert sim.state.nodes["slow"].status == "completed"
    assert sim.state.nodes["paid"].status == "cancelled"
    assert sim.state.nodes["after"].input == {"why": "x"}


def test_a_wait_longer_than_the_runs_may_last_is_warned() -> None:
    from orchestrator.settings import load_settings
    from orchestrator.spec.limits import limit_issues
    from orchestrator.spec.model import WorkflowSpec

    spec = WorkflowSpec.model_validate({
        "id": "w", "name": "w",
        "nodes": [approval(timeout="24h"), {"id": "s", "type": "signal", "signal": "x",
                                              "timeout": "10m"}],
        "edges": [edge("ok", "s", condition=True)],
    })  # fmt: skip
    _, warnings = limit_issues(spec, load_settings())
    assert [(w.code, w.node_id) for w in warnings] == [("WAIT_OUTLIVES_RUN", "ok")]
