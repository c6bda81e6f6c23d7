"""Delay nodes: wait for a duration or the next cron tick (UTC), then complete."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.engine.events import TimerFired

from .helpers import (
    Run,
    assert_unchanged,
    dispatched,
    dispatched_nodes,
    edge,
    emitted,
    task,
    timers,
)


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("duration", "wait_ms"), [("5s", 5000), ("300ms", 300), ("1m30s", 90_000), (0, 0)]
)
def test_a_duration_delay_waits_then_completes_and_moves_on(duration: object, wait_ms: int) -> None:
    run = Run(
        {
            "nodes": [task("a"), {"id": "wait", "type": "delay", "duration": duration}, task("b")],
            "edges": [edge("a", "wait"), edge("wait", "b")],
        }
    )
    cmds = run.succeed("a", {"x": 1})
    assert run.status("wait") == "waiting"
    [timer] = timers(cmds)
    assert (timer.node, timer.token) == ("wait", run.token("wait"))
    assert timer.due_ms == run.now + wait_ms
    assert run.node("wait").due_ms == timer.due_ms
    assert emitted(cmds)[-1] == "node_waiting"
    assert dispatched(cmds) == []
    cmds = run.fire("wait")
    assert run.status("wait") == "completed"
    assert dispatched_nodes(cmds) == ["b"]
    assert run.job("b").input == {"x": 1}


@pytest.mark.parametrize(
    ("now", "cron", "due"),
    [
        ("2024-01-01T12:00:00", "0 * * * *", "2024-01-01T13:00:00"),  # on a tick: the next one
        ("2024-01-01T12:00:30", "0 * * * *", "2024-01-01T13:00:00"),
        ("2024-01-01T11:59:59.500", "0 * * * *", "2024-01-01T12:00:00"),
        ("2024-01-01T12:07:00", "*/15 * * * *", "2024-01-01T12:15:00"),
        ("2024-01-01T00:00:00", "0 0 * * 1", "2024-01-08T00:00:00"),  # 2024-01-01 is a Monday
        ("2024-01-31T10:00:00", "30 2 1 * *", "2024-02-01T02:30:00"),
        ("2024-12-31T23:59:00", "0 0 1 1 *", "2025-01-01T00:00:00"),
    ],
)
def test_a_cron_delay_is_due_at_the_next_tick_after_now_in_utc(
    now: str, cron: str, due: str
) -> None:
    run = Run(
        {"nodes": [{"id": "wait", "type": "delay", "cron": cron}, task("b")]}, now_ms=_ms(now)
    )
    [timer] = timers(run.last)
    assert timer.due_ms == _ms(due)
    assert run.status("wait") == "waiting"
    run.fire("wait")
    assert run.status("wait") == "completed"
    assert run.status("b") == "queued"


def test_a_delay_timer_with_another_token_is_ignored() -> None:
    run = Run({"nodes": [{"id": "wait", "type": "delay", "duration": "1s"}, task("b")]})
    assert_unchanged(run, TimerFired("wait", "not-the-token", run.now + 5000))


def test_a_delay_still_waiting_when_the_run_fails_ends_cancelled() -> None:
    run = Run(
        {
            "nodes": [task("a"), {"id": "wait", "type": "delay", "duration": "1h"}, task("b")],
            "edges": [edge("a", "b")],  # wait is a second entry node
        }
    )
    assert run.status("wait") == "waiting"
    token = run.token("wait")
    run.fail_for_good("a")
    assert run.run_status() == "failed"
    assert run.status("wait") == "cancelled"
    assert_unchanged(run, TimerFired("wait", token, run.now + 3_600_000))
