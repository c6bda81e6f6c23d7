"""A node's handler logs as of one instant of a replay (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.replay_model import logs_as_of
from orchestrator.wire.runs import AttemptLogView

T0 = datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC)


def _iso(ms: int) -> str:
    return (T0 + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


def _attempt(n: int, start: int, end: int, lines: list[int], **extra: Any) -> AttemptLogView:
    return AttemptLogView.model_validate(
        {
            "id": f"{n}-0", "nodeId": "talk", "attempt": n, "kind": "task",
            "outcome": "failed" if n == 1 else "succeeded", "worker": "w1",
            "startedAt": _iso(start), "endedAt": _iso(end), "dropped": 0,
            "lines": [{"at": _iso(at), "level": "INFO", "text": f"line at {at}"} for at in lines],
            **extra,
        }
    )  # fmt: skip


ATTEMPTS = [_attempt(1, 100, 200, [110, 150]), _attempt(2, 500, 700, [510, 600, 690])]


def _texts(attempts: list[AttemptLogView]) -> list[list[str]]:
    return [[line.text for line in a.lines] for a in attempts]


def test_before_the_first_event_nothing_is_shown() -> None:
    now = logs_as_of(ATTEMPTS, None)
    assert now.attempts == [] and now.later == 5


def test_a_running_attempt_shows_the_lines_written_by_then() -> None:
    now = logs_as_of(ATTEMPTS, T0 + timedelta(milliseconds=600), status="running", node_attempts=2)
    assert [a.attempt for a in now.attempts] == [1, 2]
    assert _texts(now.attempts) == [["line at 110", "line at 150"], ["line at 510", "line at 600"]]
    assert [a.outcome for a in now.attempts] == ["failed", "running"]
    assert now.attempts[1].endedAt is None
    assert now.later == 1


def test_an_attempt_not_started_yet_is_left_out() -> None:
    now = logs_as_of(ATTEMPTS, T0 + timedelta(milliseconds=300), status="waiting", node_attempts=1)
    assert [a.attempt for a in now.attempts] == [1] and now.later == 3
    assert now.attempts[0] is ATTEMPTS[0]  # ended: as the API sent it


def test_an_attempt_the_events_say_ended_is_whole_even_if_its_log_ended_a_moment_later() -> None:
    # The worker stamps its log's end just after the result the events record.
    at = T0 + timedelta(milliseconds=699)
    now = logs_as_of(ATTEMPTS, at, status="completed", node_attempts=2)
    assert [a.outcome for a in now.attempts] == ["failed", "succeeded"] and now.later == 0
    earlier = logs_as_of(ATTEMPTS[:1], T0 + timedelta(milliseconds=199), status="waiting")
    assert earlier.attempts[0].outcome == "failed"
    retrying = logs_as_of(ATTEMPTS, at, status="running", node_attempts=3)
    assert [a.outcome for a in retrying.attempts] == ["failed", "succeeded"]


def test_dropped_lines_count_only_once_a_kept_line_is_shown() -> None:
    chatty = _attempt(2, 500, 700, [600, 650], dropped=40)
    at = T0 + timedelta(milliseconds=550)
    assert logs_as_of([chatty], at, status="running", node_attempts=2).attempts[0].dropped == 0
    at = T0 + timedelta(milliseconds=620)
    assert logs_as_of([chatty], at, status="running", node_attempts=2).attempts[0].dropped == 40
