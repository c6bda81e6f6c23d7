"""Exactly-once application: stale, duplicate and late messages change nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import (
    DeadlinePassed,
    Event,
    NodeFailed,
    NodeStarted,
    NodeSucceeded,
    TimerFired,
)

from .helpers import Run, assert_unchanged, edge, task


def _two_step() -> Run:
    return Run({"nodes": [task("a", retries=2), task("b")], "edges": [edge("a", "b")]})


def wrong_token_success() -> tuple[Run, Event]:
    run = _two_step()
    return run, NodeSucceeded("a", "0.9", run.tick(), {"x": 1})


def wrong_token_failure() -> tuple[Run, Event]:
    run = _two_step()
    return run, NodeFailed("a", "bogus", run.tick(), "boom")


def wrong_token_started() -> tuple[Run, Event]:
    run = _two_step()
    return run, NodeStarted("a", "bogus", run.tick())


def duplicate_started() -> tuple[Run, Event]:
    run = _two_step()
    run.begin("a")
    return run, NodeStarted("a", run.token("a"), run.tick(), worker="w2")


def duplicate_success() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.succeed("a", {"x": 1})
    return run, NodeSucceeded("a", token, run.tick(), {"x": 2})


def failure_after_success() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.succeed("a", {"x": 1})
    return run, NodeFailed("a", token, run.tick(), "late failure")


def duplicate_failure() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.fail("a")
    return run, NodeFailed("a", token, run.tick(), "boom again")


def success_after_retry_was_scheduled() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.fail("a")
    assert run.status("a") == "waiting"
    return run, NodeSucceeded("a", token, run.tick(), {"x": 1})


def success_of_a_superseded_attempt() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.fail("a")
    run.fire("a")
    assert run.status("a") == "queued"
    return run, NodeSucceeded("a", token, run.tick(), {"x": 1})


def duplicate_timer() -> tuple[Run, Event]:
    run = _two_step()
    run.fail("a")
    token = run.token("a")
    run.fire("a")
    return run, TimerFired("a", token, run.tick())


def timer_with_wrong_token() -> tuple[Run, Event]:
    run = _two_step()
    run.fail("a")
    return run, TimerFired("a", "0.7", run.tick())


def result_for_a_node_never_dispatched() -> tuple[Run, Event]:
    run = _two_step()
    return run, NodeSucceeded("b", "0.1", run.tick(), {})


def result_for_an_unknown_node() -> tuple[Run, Event]:
    run = _two_step()
    return run, NodeSucceeded("nope", "0.1", run.tick(), {})


def success_after_cancel() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.begin("a")
    run.cancel()
    return run, NodeSucceeded("a", token, run.tick(), {"x": 1})


def failure_after_cancel() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.cancel()
    return run, NodeFailed("a", token, run.tick(), "boom")


def started_after_cancel() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.cancel()
    return run, NodeStarted("a", token, run.tick())


def timer_after_cancel() -> tuple[Run, Event]:
    run = _two_step()
    run.fail("a")
    token = run.token("a")
    run.cancel()
    return run, TimerFired("a", token, run.tick())


def result_after_completion() -> tuple[Run, Event]:
    run = _two_step()
    token = run.token("a")
    run.succeed("a")
    run.succeed("b")
    assert run.run_status() == "completed"
    return run, NodeSucceeded("a", token, run.tick(), {"again": True})


def deadline_before_it_is_due() -> tuple[Run, Event]:
    run = _two_step()
    assert run.state.deadline_ms is not None
    return run, DeadlinePassed(run.state.deadline_ms - 1)


def deadline_after_completion() -> tuple[Run, Event]:
    run = _two_step()
    run.succeed("a")
    run.succeed("b")
    assert run.state.deadline_ms is not None
    return run, DeadlinePassed(run.state.deadline_ms + 1)


def result_from_before_a_run_retry() -> tuple[Run, Event]:
    run = Run({"nodes": [task("a", retries=0)]})
    token = run.token("a")
    run.fail("a")
    run.retry()
    assert run.status("a") == "queued"
    assert run.token("a") != token
    return run, NodeSucceeded("a", token, run.tick(), {"old": True})


def timer_again_while_the_retry_waits_for_a_slot() -> tuple[Run, Event]:
    run = Run(
        {"nodes": [task("a", retries=2), task("b"), task("c")], "edges": [edge("b", "c")]},
        config=EngineConfig(max_parallel=1),
    )
    token = run.token("a")
    run.fail("a")  # frees the only slot: b takes it
    assert run.status("b") == "queued"
    run.fire("a")
    assert run.status("a") == "pending" and run.state.ready == ("a",)
    return run, TimerFired("a", token, run.tick())


SCENARIOS: list[Callable[[], tuple[Run, Event]]] = [
    wrong_token_success,
    wrong_token_failure,
    wrong_token_started,
    duplicate_started,
    duplicate_success,
    failure_after_success,
    duplicate_failure,
    success_after_retry_was_scheduled,
    success_of_a_superseded_attempt,
    duplicate_timer,
    timer_again_while_the_retry_waits_for_a_slot,
    timer_with_wrong_token,
    result_for_a_node_never_dispatched,
    result_for_an_unknown_node,
    success_after_cancel,
    failure_after_cancel,
    started_after_cancel,
    timer_after_cancel,
    result_after_completion,
    deadline_before_it_is_due,
    deadline_after_completion,
    result_from_before_a_run_retry,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_stale_message_changes_nothing_and_emits_nothing(
    scenario: Callable[[], tuple[Run, Event]],
) -> None:
    run, event = scenario()
    assert_unchanged(run, event)


def test_a_delivered_twice_success_applies_once() -> None:
    run = _two_step()
    token = run.token("a")
    first = run.succeed("a", {"x": 1})
    assert run.status("b") == "queued"
    state = run.state
    second = run.send(NodeSucceeded("a", token, run.tick(), {"x": 1}))
    assert second == []
    assert run.state is state
    assert len([c for c in first if type(c).__name__ == "Dispatch"]) == 1
    assert run.events().count("node_completed") == 1
