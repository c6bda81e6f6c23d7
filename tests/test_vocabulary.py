"""One vocabulary: statuses and event types are named in ``orchestrator/vocab.py`` only.

The guard reads the product's source (``orchestrator/``, ``app/``, ``serve/``) and fails on
a string literal that spells an event type anywhere, or a run/node status or audit outcome
outside the few places where the same word means something else (listed below, with why).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.vocab import (
    COMPENSATION_EVENTS,
    IMPLIES,
    NODE_EVENT_STATUS,
    RUN_EVENT_STATUS,
    TERMINAL_EVENTS,
    TERMINAL_RUN,
    AuditOutcome,
    EventType,
    NodeStatus,
    RunStatus,
)

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("orchestrator", "app", "serve")
VOCABULARY = Path("orchestrator/vocab.py")

EVENT_WORDS = frozenset(EventType)
STATUS_WORDS = frozenset(RunStatus) | frozenset(NodeStatus) | frozenset(AuditOutcome)

HOMONYMS: dict[str, frozenset[str]] = {
    # Inbox message types (started / succeeded / failed / timer ...), not node statuses.
    "orchestrator/protocol.py": frozenset({"failed"}),
    "orchestrator/worker/worker.py": frozenset({"failed"}),
    "orchestrator/worker/reporting.py": frozenset({"failed"}),
    "orchestrator/worker/outcome.py": frozenset({"failed"}),
    "orchestrator/service/orchestrator.py": frozenset({"failed", "pending"}),
    "orchestrator/service/inbox_events.py": frozenset({"failed"}),
    "orchestrator/store/queue_admin.py": frozenset({"failed", "pending", "waiting"}),
    # A stream's pending (delivered, unacknowledged) and waiting (undelivered) entries
    # (XPENDING's summary in the orchestrator's inbox trim).
    "orchestrator/api/metrics.py": frozenset({"pending"}),
    "orchestrator/cli/remote/queues.py": frozenset({"pending", "waiting"}),
    "app/widgets/queue_table.py": frozenset({"pending", "waiting"}),
    # A policy check's verdict in prose, the 405 answer's allowed methods, the app's
    # connection state (the API refused our identity).
    "orchestrator/security/invariants.py": frozenset({"allowed", "denied"}),
    "orchestrator/api/middleware.py": frozenset({"allowed"}),
    # The permission check's answer (``{"allowed": ...}``), asked by the app's session.
    "orchestrator/api/handlers/checks.py": frozenset({"allowed"}),
    "app/session.py": frozenset({"allowed", "denied"}),
    # Whether a Redis server is running, or a cluster node is marked failed (its JSON
    # field); a benchmark's count of failed runs, and the peers it skipped (not installed).
    "orchestrator/cli/redis_cmd.py": frozenset({"running"}),
    "orchestrator/cli/redis_status.py": frozenset({"failed"}),
    "orchestrator/cli/bench_cmd.py": frozenset({"skipped"}),
    "orchestrator/cli/bench_scale_cmds.py": frozenset({"failed"}),
    "orchestrator/bench/throughput.py": frozenset({"skipped"}),
    "orchestrator/bench/scale.py": frozenset({"failed"}),
    # A map's output and progress count its ``failed`` items (the output shape).
    "orchestrator/engine/kinds/map.py": frozenset({"failed"}),
    "orchestrator/service/views.py": frozenset({"failed"}),
    "orchestrator/cli/remote/runs.py": frozenset({"failed"}),
    "app/widgets/map_items.py": frozenset({"failed"}),
    "app/run_state.py": frozenset({"failed"}),
    # The inbox message a child run's end posts to its parent (protocol.InboxType).
    "orchestrator/engine/tx.py": frozenset({"failed"}),
    # The Gantt answer's ``skipped`` field: the list of skipped nodes (drawn apart).
    "orchestrator/engine/timeline.py": frozenset({"skipped"}),
}
ANYWHERE = frozenset({AuditOutcome.ERROR})
"""Too common to police: ``{"error": message}`` fields, ``severity="error"``."""


def _is_vocabulary(node: ast.AST) -> bool:
    """A ``StrEnum`` class: another vocabulary defined once in its module (a schedule fire's
    outcome, a backfill's state, a Gantt bar's outcome), where a word may recur."""
    return isinstance(node, ast.ClassDef) and any(
        isinstance(base, ast.Name) and base.id == "StrEnum" for base in node.bases
    )


def _literals(path: Path) -> Iterator[tuple[int, str]]:
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value
        if not _is_vocabulary(node):
            todo.extend(ast.iter_child_nodes(node))


def offending_literals() -> list[str]:
    """``path:line: 'word'`` of each vocabulary word spelled out in product code."""
    found = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel == VOCABULARY:
                continue
            allowed = HOMONYMS.get(rel.as_posix(), frozenset()) | ANYWHERE
            for line, value in _literals(path):
                if value in EVENT_WORDS or (value in STATUS_WORDS and value not in allowed):
                    found.append(f"{rel}:{line}: {value!r}")
    return found


def test_no_status_or_event_literal_outside_the_vocabulary() -> None:
    found = offending_literals()
    assert not found, "use orchestrator.vocab instead of:\n" + "\n".join(found)


def test_the_guard_sees_a_literal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "bad.py").write_text(
        'if event["type"] == "node_failed": status = "queued"\n'
    )
    (tmp_path / "app" / "own.py").write_text(
        'class Fire(StrEnum):\n    FAILED = "failed"\n\nBAD = "failed"\n'
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert sorted(offending_literals()) == [
        "app/bad.py:1: 'node_failed'",
        "app/bad.py:1: 'queued'",
        "app/own.py:4: 'failed'",
    ]


def test_every_event_implies_one_run_or_node_status() -> None:
    assert set(IMPLIES) == set(EventType)
    for event in EventType:
        assert (event.run_status is None) != (event.node_status is None), event
    assert set(RUN_EVENT_STATUS) | set(NODE_EVENT_STATUS) == set(EventType)


def test_derived_sets() -> None:
    assert {e.run_status for e in TERMINAL_EVENTS} == TERMINAL_RUN
    assert {
        EventType.RUN_COMPLETED,
        EventType.RUN_FAILED,
        EventType.RUN_CANCELLED,
        EventType.RUN_COMPENSATED,
    } == TERMINAL_EVENTS
    assert EventType.COMPENSATION_FAILED in COMPENSATION_EVENTS
    assert EventType.NODE_FAILED not in COMPENSATION_EVENTS
    # The CLI's watch table and the app's table are one: a failed compensation leaves the
    # task completed in both (they had diverged).
    assert NODE_EVENT_STATUS["compensation_failed"] == NodeStatus.COMPLETED
