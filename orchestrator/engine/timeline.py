"""A run's timeline from its recorded events: one bar per node attempt, and the critical path.

Pure over the events and the graph.  A bar goes queued → started → ended; a failed
attempt that is retried is followed by its backoff (until the next attempt is queued);
a delay node waits; gateways settle in an instant.  Skipped nodes are listed apart.

The critical path is the chain of nodes that set the run's duration: the last node to
finish, then — recursively — the predecessor that released it last (for a compensation,
the node that settled last before it was queued).  It is computed on the run's last
epoch (a retried run starts a new epoch at the retry).  Its parts say where the time
went: execution, waiting in a queue, retry backoff, delay nodes, and overhead (the gaps
between one node's end and the next one's release).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestrator.engine.replay import Recorded
from orchestrator.spec.graph import Graph
from orchestrator.vocab import TERMINAL_EVENTS
from orchestrator.vocab import EventType as E

_RUN_END = TERMINAL_EVENTS
PARTS = ("execution", "queue", "backoff", "delay", "overhead")


class Outcome(StrEnum):
    """Where one attempt's bar stands: the Gantt chart's vocabulary (not a node status:
    a retried attempt is ``retrying``, an attempt open when its epoch ended ``cancelled``)."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    """A delay node waiting for its time."""
    COMPLETED = "completed"
    FAILED = "failed"
    RETRYING = "retrying"
    """Failed, and retried after a backoff."""
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Bar:
    """One attempt of one node (times in ms since the epoch)."""

    node: str
    kind: str
    """``task``, ``compensation``, ``delay`` or ``gateway``."""
    epoch: int
    attempt: int
    queued_ms: int | None = None
    started_ms: int | None = None
    ended_ms: int | None = None
    outcome: Outcome = Outcome.QUEUED
    backoff_until_ms: int | None = None
    """For a retried attempt: when the next attempt was queued."""
    worker: str | None = None

    @property
    def release_ms(self) -> int | None:
        """When the attempt was released (queued, or began waiting / settling)."""
        return self.queued_ms if self.queued_ms is not None else self.started_ms

    def parts(self) -> dict[str, int]:
        """Milliseconds of each kind this attempt spent (backoff after it included)."""
        out = dict.fromkeys(PARTS, 0)
        release, end = self.release_ms, self.ended_ms
        if release is None or end is None:
            return out
        if self.kind == "delay":
            out["delay"] = end - release
        else:
            started = self.started_ms if self.started_ms is not None else end
            out["queue"] = max(0, started - release)
            out["execution"] = max(0, end - started)
        if self.backoff_until_ms is not None:
            out["backoff"] = max(0, self.backoff_until_ms - end)
        return out


@dataclass(frozen=True, slots=True)
class Skipped:
    """A node that was skipped (no path into it was taken, or a retry skipped it)."""

    node: str
    epoch: int
    at_ms: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One node on the critical path."""

    node: str
    release_ms: int
    end_ms: int
    parts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class CriticalPath:
    """The chain of nodes that set the run's (last epoch's) duration."""

    steps: tuple[Step, ...]
    start_ms: int
    """Start of the epoch the path is in (the run's start, or its last retry)."""
    end_ms: int

    @property
    def nodes(self) -> list[str]:
        """Node ids, first to last."""
        return [s.node for s in self.steps]

    @property
    def total_ms(self) -> int:
        """From the epoch's start to the last node's end."""
        return (self.steps[-1].end_ms - self.start_ms) if self.steps else 0

    def parts(self) -> dict[str, int]:
        """The total split into execution, queue wait, backoff, delay and overhead."""
        out = dict.fromkeys(PARTS, 0)
        for step in self.steps:
            for k, v in step.parts.items():
                out[k] += v
        return out

    def share(self) -> float:
        """The share of the epoch's duration explained by work and waits on the path."""
        span = self.end_ms - self.start_ms
        if span <= 0:
            return 1.0 if self.steps else 0.0
        return max(0.0, min(1.0, (self.total_ms - self.parts()["overhead"]) / span))


@dataclass(frozen=True, slots=True)
class Timeline:
    """Every attempt of a run, its skipped nodes and its critical path."""

    start_ms: int
    end_ms: int | None
    """When the run ended (None: still going)."""
    bars: tuple[Bar, ...]
    skipped: tuple[Skipped, ...]
    epochs: tuple[int, ...]
    """Start time of each epoch."""
    critical: CriticalPath
    complete: bool = True
    """False when the stream was trimmed (it starts after the run's start)."""
    last_ms: int = 0
    """Time of the last recorded event."""
    by_node: Mapping[str, list[Bar]] = field(default_factory=dict)


def build(graph: Graph, events: Sequence[Recorded], start_ms: int) -> Timeline:
    """The timeline of a run that started at ``start_ms`` and recorded ``events``."""
    epoch = 0
    epochs = [start_ms]
    bars: list[Bar] = []
    open_: dict[str, Bar] = {}
    skipped: list[Skipped] = []
    end_ms: int | None = None
    for e in events:
        node, at, data = e.node, e.at_ms, e.data
        if e.type == E.RUN_RETRIED:
            _close(open_, end_ms if end_ms is not None else at)
            epoch = int(data.get("epoch", epoch + 1))
            epochs.append(at)
            end_ms = None
            continue
        if e.type in _RUN_END:
            end_ms = at
            continue
        if node is None or node not in graph.nodes:
            continue
        kind = _kind(graph, node)
        bar = open_.get(node)
        if e.type == E.NODE_QUEUED:
            if bar is not None and bar.outcome == Outcome.RETRYING:
                bar.backoff_until_ms = at
            bar = Bar(node, kind, epoch, int(data.get("attempt", 1)), queued_ms=at)
            bars.append(bar)
            open_[node] = bar
        elif e.type == E.NODE_WAITING:
            bar = Bar(node, kind, epoch, 1, started_ms=at, outcome=Outcome.WAITING)
            bars.append(bar)
            open_[node] = bar
        elif e.type == E.NODE_STARTED and bar is not None:
            bar.started_ms, bar.outcome, bar.worker = at, Outcome.RUNNING, data.get("worker")
        elif e.type in (E.NODE_COMPLETED, E.NODE_FAILED, E.NODE_RETRYING):
            if bar is None or bar.ended_ms is not None:
                bar = Bar(node, kind, epoch, 1, started_ms=at)
                bars.append(bar)
            bar.ended_ms = at
            outcomes: dict[str, Outcome] = {
                E.NODE_COMPLETED: Outcome.COMPLETED,
                E.NODE_FAILED: Outcome.FAILED,
            }
            bar.outcome = outcomes.get(e.type, Outcome.RETRYING)
            open_[node] = bar
        elif e.type == E.NODE_SKIPPED:
            skipped.append(Skipped(node, epoch, at, data.get("reason")))
    if end_ms is not None:
        _close(open_, end_ms)
    last = events[-1].at_ms if events else start_ms
    complete = bool(events) and events[0].type == E.RUN_STARTED
    by_node: dict[str, list[Bar]] = {}
    for bar in bars:
        by_node.setdefault(bar.node, []).append(bar)
    critical = critical_path(graph, bars, epochs[-1], end_ms if end_ms is not None else last)
    return Timeline(
        start_ms=start_ms,
        end_ms=end_ms,
        bars=tuple(bars),
        skipped=tuple(skipped),
        epochs=tuple(epochs),
        critical=critical,
        complete=complete,
        last_ms=last,
        by_node=by_node,
    )


def _kind(graph: Graph, node: str) -> str:
    t = graph.nodes[node].type
    return t if t in ("task", "compensation", "delay") else "gateway"


def _close(open_: dict[str, Bar], at: int) -> None:
    """Attempts still open when their epoch ended were cancelled (or abandoned)."""
    for bar in open_.values():
        if bar.ended_ms is None:
            bar.ended_ms, bar.outcome = at, Outcome.CANCELLED
    open_.clear()


@dataclass(frozen=True, slots=True)
class _Span:
    node: str
    release: int
    end: int
    bars: tuple[Bar, ...]


def critical_path(graph: Graph, bars: Sequence[Bar], start_ms: int, end_ms: int) -> CriticalPath:
    """The critical path of the epoch starting at ``start_ms`` (see the module docs)."""
    spans = _spans(bars, start_ms)
    if not spans:
        return CriticalPath((), start_ms, end_ms)
    order = {s.node: i for i, s in enumerate(spans.values())}
    current = max(spans.values(), key=lambda s: (s.end, order[s.node]))
    chain = [current]
    seen = {current.node}
    while True:
        if graph.nodes[current.node].type == "compensation":
            pool = [s for s in spans.values() if s.node not in seen]
        else:
            pool = [spans[p] for p in graph.predecessors(current.node) if p in spans]
            pool = [s for s in pool if s.node not in seen]
        earlier = [s for s in pool if s.end <= current.release]
        if not earlier:
            break
        current = max(earlier, key=lambda s: (s.end, order[s.node]))
        chain.append(current)
        seen.add(current.node)
    chain.reverse()
    steps: list[Step] = []
    prev_end = start_ms
    for span in chain:
        parts = dict.fromkeys(PARTS, 0)
        for bar in span.bars:
            for k, v in bar.parts().items():
                parts[k] += v
        parts["overhead"] += max(0, span.release - prev_end)
        steps.append(Step(span.node, span.release, span.end, parts))
        prev_end = span.end
    return CriticalPath(tuple(steps), start_ms, end_ms)


def _spans(bars: Sequence[Bar], start_ms: int) -> dict[str, _Span]:
    """Each node's first release to last end within the epoch starting at ``start_ms``."""
    grouped: dict[str, list[Bar]] = {}
    for bar in bars:
        if bar.release_ms is None or bar.ended_ms is None or bar.release_ms < start_ms:
            continue
        grouped.setdefault(bar.node, []).append(bar)
    out: dict[str, _Span] = {}
    for node, group in grouped.items():
        release = min(b.release_ms for b in group if b.release_ms is not None)
        end = max(b.ended_ms for b in group if b.ended_ms is not None)
        out[node] = _Span(node, release, end, tuple(group))
    return out


def node_durations(timeline: Timeline) -> dict[str, int]:
    """Each node's duration in the last epoch: first release to last end (ms)."""
    spans = _spans(timeline.bars, timeline.epochs[-1])
    return {n: s.end - s.release for n, s in spans.items()}


def node_execution(timeline: Timeline) -> dict[str, int]:
    """Each node's time executing in the last epoch, over all its attempts (ms)."""
    spans = _spans(timeline.bars, timeline.epochs[-1])
    return {n: sum(b.parts()["execution"] for b in s.bars) for n, s in spans.items()}


def to_json(timeline: Timeline) -> dict[str, Any]:
    """The timeline as JSON: offsets in ms from the run's start."""
    t0 = timeline.start_ms

    def off(ms: int | None) -> int | None:
        return None if ms is None else ms - t0

    cp = timeline.critical
    end = timeline.end_ms if timeline.end_ms is not None else timeline.last_ms
    return {
        "start_ms": t0,
        "duration_ms": end - t0,
        "finished": timeline.end_ms is not None,
        "complete": timeline.complete,
        "epochs": [off(e) for e in timeline.epochs],
        "critical_path": cp.nodes,
        "critical": {
            "total_ms": cp.total_ms,
            "epoch_ms": cp.end_ms - cp.start_ms,
            "share": round(cp.share(), 4),
            "parts_ms": cp.parts(),
            "steps": [
                {"node": s.node, "release_ms": off(s.release_ms), "end_ms": off(s.end_ms),
                 "parts_ms": dict(s.parts)}
                for s in cp.steps
            ],
        },
        "nodes": [
            {
                "node": b.node,
                "kind": b.kind,
                "epoch": b.epoch,
                "attempt": b.attempt,
                "queued_ms": off(b.queued_ms),
                "started_ms": off(b.started_ms),
                "ended_ms": off(b.ended_ms),
                "backoff_until_ms": off(b.backoff_until_ms),
                "outcome": b.outcome,
                "worker": b.worker,
                "critical": b.node in cp.nodes and b.epoch == timeline_epoch(timeline),
            }
            for b in timeline.bars
        ],
        "skipped": [
            {"node": s.node, "epoch": s.epoch, "at_ms": off(s.at_ms), "reason": s.reason}
            for s in timeline.skipped
        ],
    }  # fmt: skip


def timeline_epoch(timeline: Timeline) -> int:
    """The number of the last epoch (the one the critical path is in)."""
    return max((b.epoch for b in timeline.bars), default=0)
