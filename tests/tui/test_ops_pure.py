"""The pure pieces of the ops screens: event -> status, labels, lines and table rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.canvas.glyphs import STATUSES
from app.canvas.model import as_canvas_graph
from app.live import (
    LiveState,
    run_status_from_event,
    state_label,
    status_from_event,
)
from app.run_state import Change, LiveRun
from app.screens.monitor_rules import action_reason, best_zoom, interesting_node
from app.widgets.event_log import event_line
from app.widgets.node_details import describe_node
from app.widgets.ops_format import clock, duration_text, json_text, stamp
from app.widgets.queue_table import shard_text
from app.widgets.run_header import header_text
from orchestrator.cli.remote.queues import depth_rows
from orchestrator.client import backoff_s
from orchestrator.spec.loader import load_file
from orchestrator.vocab import NODE_EVENT_STATUS
from orchestrator.wire.ops import Queues
from orchestrator.wire.runs import NodeStatusView, WorkflowRun
from tests.tui.ops_canned import EVENTS, QUEUES, RUN_VIEW
from tests.tui.ops_fixtures import EXAMPLES
from tests.wire_events import event, events


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("node_queued", "queued"),
        ("node_started", "running"),
        ("node_retrying", "waiting"),
        ("node_compensating", "compensating"),
        ("node_compensated", "compensated"),
        ("compensation_failed", "completed"),
    ],
)
def test_node_events_imply_a_status(kind: str, status: str) -> None:
    assert status_from_event(event(kind, "n")) == ("n", status)


def test_every_implied_status_is_drawable_and_run_events_imply_none() -> None:
    assert set(NODE_EVENT_STATUS.values()) <= set(STATUSES)
    assert status_from_event(event("run_failed")) is None
    assert status_from_event(event("node_started")) is None  # no node id
    assert status_from_event(event("surprise", "n")) is None
    assert run_status_from_event(event("run_compensated")) == "compensated"


def _run(view: dict[str, Any]) -> WorkflowRun:
    """``view`` as the API's run: its nodes' ids filled in, and what it leaves out."""
    nodes = {n: {"nodeId": n, "attempts": 0, **v} for n, v in view["nodes"].items()}
    base = {"id": "r", "runId": "r", "workflowId": "w", "workflowVersion": 1, "priority": 5,
            "startTime": "2026-01-15T09:30:00Z", "context": {}, "parameters": {}}  # fmt: skip
    return WorkflowRun.model_validate({**base, **view, "nodes": nodes})


def test_the_saga_events_alone_give_the_runs_statuses() -> None:
    started = {**RUN_VIEW, "status": "running", "nodes": {
        n: {"nodeId": n, "status": "pending"} for n in RUN_VIEW["nodes"]
    }}  # fmt: skip
    for cleared in ("error", "errorNode", "endTime", "duration"):
        del started[cleared]
    live = LiveRun.of(_run(started))
    for one in events(EVENTS):
        live.apply(one)
    # cancel_shipment never ran: its node_skipped event says so, no fetch is needed.
    assert live.statuses == {n: v["status"] for n, v in RUN_VIEW["nodes"].items()}
    assert live.status == "compensated"
    assert live.view.error == RUN_VIEW["error"]
    assert live.view.duration == RUN_VIEW["duration"]
    assert live.summary() == "2 completed, 1 failed, 1 skipped, 2 compensated"


def test_a_live_run_takes_every_status_change_from_events() -> None:
    live = LiveRun.of(_run({
        "runId": "r", "status": "failed", "startTime": "2026-01-15T09:30:00Z", "retries": 0,
        "error": "node b failed: boom", "errorNode": "b", "duration": 1000,
        "nodes": {"a": {"status": "completed", "output": {"x": 1}}, "b": {"status": "failed"},
                  "c": {"status": "cancelled"}, "undo": {"status": "skipped"}},
    }))  # fmt: skip
    retried = event("run_retried", data={"epoch": 1, "reset": {"b": "pending", "c": "pending"}})
    change = live.apply(retried)
    assert change.run and change.nodes == {"b", "c"}
    assert live.statuses == {"a": "completed", "b": "pending", "c": "pending", "undo": "skipped"}
    assert live.status == "running" and live.view.retries == 1
    assert live.view.error is None and live.view.duration is None
    live.apply(event("node_queued", "b", {"attempt": 1}))
    live.apply(event("node_started", "b", {"attempt": 1}))
    live.apply(event("node_cancelled", "b", {"was": "running"}))
    live.apply(event("node_cancelled", "c", {"was": "pending"}))
    live.apply(event("run_cancelled", None, {"reason": "cancelled by request"},
                     timestamp="2026-01-15T09:30:05Z"))  # fmt: skip
    assert live.statuses == {
        "a": "completed",
        "b": "cancelled",
        "c": "cancelled",
        "undo": "skipped",
    }
    assert live.status == "cancelled" and live.view.error == "cancelled by request"
    assert live.view.duration == 5000
    # The panel's node: the fetched details with the status the events gave.
    a, b = live.node("a"), live.node("b")
    assert a is not None and (a.status, a.output) == ("completed", {"x": 1})
    assert b is not None and (b.status, b.output) == ("cancelled", None)
    assert live.wants_details("b")  # fetched as failed, now cancelled
    live.asking("b")
    assert not live.wants_details("b")  # asked once per status
    assert not live.wants_details("a")
    assert live.apply(event("no_such_event", "a")) == Change()
    assert live.apply(event("node_failed", "not_in_the_run")) == Change()
    assert "not_in_the_run" not in live.statuses


def test_state_labels_and_backoff() -> None:
    assert state_label(LiveState.LIVE) == "● live"
    assert state_label(LiveState.RECONNECTING, 3) == "◍ reconnecting… (attempt 3)"
    assert [backoff_s(n) for n in (1, 2, 3, 4, 5, 9)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_formatting() -> None:
    assert clock("2026-01-15T09:30:02.500Z", millis=True) == "09:30:02.500"
    assert clock(1768469400000) == "09:30:00"
    assert clock(None) == clock("not a time") == "—"
    assert stamp("2026-01-15T09:30:00+00:00") == "2026-01-15 09:30:00"
    assert [duration_text(v) for v in (250, 4200, 185_000, 7_260_000, -1, True)] == [
        "250ms", "4.2s", "3m05s", "2h01m", "—", "—",
    ]  # fmt: skip
    assert json_text({"b": 1, "a": [1]}) == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}'
    assert json_text("x" * 50, max_chars=10).endswith("(42 more characters)")


def test_event_lines_mark_the_compensation_path() -> None:
    by_type: dict[str, str] = {}
    for one in events(EVENTS):  # the first event of each type
        by_type.setdefault(one.type, event_line(one).plain)
    assert by_type["node_compensating"].startswith("09:30:02.900 ↺ node_compensating")
    assert "compensation refund_payment" in by_type["node_compensating"]
    assert "carrier unavailable" in by_type["node_failed"]
    assert "retry in 1s" in by_type["node_retrying"]
    assert "✓ node_completed" in by_type["node_completed"]


def test_header_and_details_text() -> None:
    run = WorkflowRun.model_validate(RUN_VIEW)
    text = header_text(run, title="Order Processing", state=LiveState.ENDED).plain
    assert text.splitlines() == [
        "■ ended   ↩ compensated   Order Processing v1",
        "run-0000000saga0001 · started 09:30:00 · took 3.2s",
        "✗ node ship_order failed: carrier unavailable (fail_at=ship_order)",
    ]
    lost = header_text(run, state=LiveState.RECONNECTING, attempt=2, detail="refused")
    assert lost.plain.startswith("◍ reconnecting… (attempt 2) refused")
    loading = header_text(None, pending="run-1", title="Order Processing").plain
    assert loading.splitlines() == ["○ not following   ○ pending   Order Processing", "run-1"]
    waiting = NodeStatusView.model_validate(
        {"nodeId": "n", "status": "queued", "attempts": 1, "waitingFor": "no worker"}
    )
    body = describe_node(waiting, kind="task", handler="h")
    assert "⚠ waiting: no worker" in str(getattr(body, "renderables", [""])[-1])


def test_depth_rows_sorted_by_handler_then_lane() -> None:
    queues = Queues.model_validate(QUEUES)
    rows = depth_rows(queues.handlers)
    assert [(r[0], r[1]) for r in rows] == [
        ("chargePayment", "normal"),
        ("nobodyOffersThis", "low"),
        ("shipOrder", "high"),
        ("shipOrder", "normal"),
    ]
    assert rows[2] == ("shipOrder", "high", 2, 1, 1, 1)
    assert depth_rows({}) == []
    assert shard_text(queues.shards).plain == "shard 0  inbox 4 · timers 1 · dead letters 2"
    assert shard_text([]).plain == "no shards reported"


def _blocked_unless(*held: str) -> Callable[[str], str]:
    return lambda perm: "" if perm in held else f"operators cannot ({perm})"


def test_action_reasons() -> None:
    failed = WorkflowRun.model_validate(RUN_VIEW).model_copy(update={"status": "failed"})
    running = failed.model_copy(update={"status": "running"})
    both = _blocked_unless("run:cancel", "workflow:execute")
    assert action_reason("cancel", running, both) == ""
    assert "only pending or running" in action_reason("cancel", failed, both)
    assert action_reason("cancel", running, _blocked_unless()) == "operators cannot (run:cancel)"
    assert action_reason("retry", None, both) == "no run selected"
    assert "only failed, cancelled or compensated" in action_reason("retry", running, both)
    assert action_reason("retry", failed, both) == ""
    assert "select the node" in action_reason("retry-node", failed, both)
    assert "compensation node" in action_reason(
        "retry-node", failed, both, node_id="refund", node_type="compensation"
    )
    assert action_reason("retry-node", failed, both, node_id="ship", node_type="task") == ""


def test_interesting_node_and_best_zoom() -> None:
    assert interesting_node(RUN_VIEW["errorNode"], {"ship_order": "failed"}) == "ship_order"
    assert interesting_node(None, {"a": "completed", "b": "queued", "c": "queued"}) == "b"
    assert interesting_node(None, {"a": "completed", "b": "queued", "c": "queued"}, "cba") == "c"
    # Nothing busy: the workflow's first node as drawn, whatever order the run lists.
    assert interesting_node(None, {"z": "completed", "a": "completed"}, ["a", "z"]) == "a"
    assert interesting_node(None, {"a": "pending"}) == "a"
    assert interesting_node(None, {}) is None
    graph = as_canvas_graph(load_file(EXAMPLES / "order-processing.yaml"))
    assert best_zoom(graph, {}, 40) == 1
    assert best_zoom(graph, {}, 10) == 1  # 15 rows: a little scrolling is fine
    assert best_zoom(graph, {}, 8) == 2
    assert best_zoom(graph, {}, 2) == 3
