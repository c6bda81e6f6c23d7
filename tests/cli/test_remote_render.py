"""The remote commands' pure parts: tables, durations, parameters, progress, denials."""

from __future__ import annotations

import io
from typing import Any

import click
import pytest

from orchestrator.cli.exits import denial, exit_code_of
from orchestrator.cli.remote.queues import depth_rows, worker_rows
from orchestrator.cli.remote.render import duration, issue_line, shorten, table
from orchestrator.cli.remote.runs import parse_params
from orchestrator.cli.remote.watch import EventPrinter, Progress, event_line
from orchestrator.errors import (
    BadRequest,
    Conflict,
    DagqError,
    Forbidden,
    NotFound,
    ParameterError,
    SpecInvalid,
    Unauthorized,
    Unavailable,
)
from orchestrator.wire.ops import ChildUsage, LaneDepth, WorkerRoom, WorkerView
from orchestrator.wire.runs import RunEvent
from tests.wire_events import event, run_view


def test_table_aligns_columns_and_strips_trailing_spaces() -> None:
    text = table(("id", "name", "note"), [("a", "Alpha", ""), ("longer-id", "B", None)])
    assert text.splitlines() == [
        "ID         NAME   NOTE",
        "a          Alpha",
        "longer-id  B",
    ]


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, ""),
        (0, "0ms"),
        (999, "999ms"),
        (1000, "1.0s"),
        (61_500, "1m01s"),
        (3_900_000, "1h05m"),
    ],
)
def test_duration(ms: int | None, text: str) -> None:
    assert duration(ms) == text


def test_shorten_and_issue_line() -> None:
    assert shorten("a\n  b", 10) == "a b"
    assert shorten("x" * 20, 10) == "x" * 9 + "…"
    issue = {"code": "CYCLE", "message": "loops", "nodeId": "a", "suggestion": "cut it"}
    assert issue_line("✗", issue) == "  ✗ CYCLE [a] loops (suggestion: cut it)"


def test_parse_params_merges_json_and_pairs() -> None:
    assert parse_params('{"a": 1, "b": "x"}', ("b=2", "c=abc", 'd={"k": [1]}', "e=")) == {
        "a": 1,
        "b": 2,
        "c": "abc",
        "d": {"k": [1]},
        "e": "",
    }
    assert parse_params(None, ()) == {}
    for bad_json in ("[1]", "{nope"):
        with pytest.raises(click.BadParameter):
            parse_params(bad_json, ())
    with pytest.raises(click.BadParameter):
        parse_params(None, ("=1",))


def test_denial_names_the_role_the_action_and_the_permission() -> None:
    exc = Forbidden(
        "otto (workflow_operator) may not use workflow:update",
        details={"permission": "workflow:update", "role": "workflow_operator"},
    )
    assert denial(exc, "push workflows") == (
        "permission denied: operators cannot push workflows (workflow:update)"
    )
    roleless = Forbidden("x", details={"permission": "run:read", "role": None})
    assert denial(roleless, "list runs") == (
        "permission denied: users without a role cannot list runs (run:read)"
    )
    assert denial(Forbidden("no"), "x") == "permission denied: no"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (Unauthorized("k"), 3),
        (Forbidden("f"), 3),
        (Unavailable("u"), 2),
        (BadRequest("b"), 2),
        (ParameterError("p"), 2),
        (NotFound("n"), 1),
        (Conflict("c"), 1),
        (SpecInvalid("s"), 1),
        (DagqError("d"), 1),
    ],
)
def test_exit_codes(exc: DagqError, code: int) -> None:
    assert exit_code_of(exc) == code


def _event(kind: str, node: str | None = None, **data: Any) -> RunEvent:
    return event(kind, node, data, timestamp="2026-01-01T00:00:00.250Z")


def _check(line: str) -> dict[str, Any]:
    return {"expect": line}


def test_progress_follows_node_events_and_a_retry() -> None:
    progress = Progress({"a": "pending", "b": "pending", "c": "pending"})
    for step in (
        _event("run_started"),
        _event("node_started", "a"),
        _check("[run running] 0/3 completed, 1 running, 0 failed"),
        _event("node_completed", "a"),
        _event("node_started", "b"),
        _event("node_failed", "b", error="boom"),
        _event("node_skipped", "c"),
        _event("run_failed", error="b failed"),
    ):
        if isinstance(step, dict):
            assert progress.line() == step["expect"]
        else:
            progress.apply(step)
    assert progress.line() == "[run failed] 1/3 completed, 0 running, 1 failed, 1 skipped"
    progress.apply(_event("run_retried", fromNode="b", reset={"b": "pending", "c": "pending"}))
    assert progress.nodes == {"a": "completed", "b": "pending", "c": "pending"}
    progress.apply(_event("node_queued", "b"))
    assert progress.line() == "[run running] 1/3 completed, 1 running, 0 failed"


def test_event_line_shows_node_type_and_details() -> None:
    line = event_line(_event("node_retrying", "fetch", attempt=2, delayMs=1500, error="timeout\nx"))
    assert line.endswith(
        "fetch                node_retrying        attempt 2, retry in 1.5s: timeout x"
    )
    assert event_line(_event("run_started")).split()[1:] == ["-", "run_started"]


def test_printer_redraws_progress_on_a_terminal_and_prints_it_once_elsewhere() -> None:
    live = io.StringIO()
    printer = EventPrinter(live, Progress({"a": "pending"}), live=True)
    printer.event(_event("node_started", "a"))
    printer.event(_event("node_completed", "a"))
    printer.finish()
    text = live.getvalue()
    assert text.count("\r\x1b[2K") == 2  # the progress line is cleared before each redraw
    assert text.endswith("[run pending] 1/1 completed, 0 running, 0 failed\n")

    piped = io.StringIO()
    printer = EventPrinter(piped, Progress({"a": "pending"}), live=False)
    printer.event(_event("node_started", "a"))
    printer.finish(run_view("completed", {"a": "completed"}))
    lines = piped.getvalue().splitlines()
    assert "\r" not in piped.getvalue() and len(lines) == 2
    assert lines[1] == "[run completed] 1/1 completed, 0 running, 0 failed"


def test_depth_rows_hide_empty_streams_unless_asked() -> None:
    empty = LaneDepth(length=0, pending=0, waiting=0, lag=None)
    data = {
        "b": {"low": empty, "high": LaneDepth(length=3, pending=1, waiting=2, lag=2)},
        "a": {"normal": empty},
    }
    assert depth_rows(data, everything=False) == [("b", "high", 3, 2, 1, 2)]
    assert [r[:2] for r in depth_rows(data)] == [("a", "normal"), ("b", "high"), ("b", "low")]


def test_worker_rows_show_what_is_reserved_of_the_room_and_the_childrens_usage() -> None:
    base = {"host": "h", "pid": 7, "concurrency": 8, "startedMs": 0, "lastSeenMs": 0}
    room = {
        "capacity": WorkerRoom(memory=2 << 30, cpu=2),
        "reserved": WorkerRoom(memory=512 << 20, cpu=0.5),
        "usage": ChildUsage(rss=64 << 20, cpu=1.5, children=2),
    }
    isolated = WorkerView.model_validate(
        {**base, **room, "id": "w1", "handlers": ["a", "b"], "inFlight": 2, "processed": 5}
    )
    bare = WorkerView.model_validate(
        {**base, "id": "w2", "handlers": [], "inFlight": 0, "processed": 0}
    )
    first, second = worker_rows([isolated, bare])
    assert first[:5] == ("w1", "h", 7, "2/8", 5)
    assert first[5:8] == ("512 MiB / 2 GiB", "0.5 / 2", "2: 64 MiB, 1.5s cpu")
    assert first[-1] == "a,b"
    assert second[5:8] == ("", "", "")
