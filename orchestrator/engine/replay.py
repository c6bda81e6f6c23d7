"""Rebuild a run as it was after each of its recorded events, with the real transitions.

The event stream records what the transitions *emitted*, not the inbox messages they
were given.  Replay recovers each message from the event it caused (``node_started``
came from a ``started`` message, ``node_retrying`` from a failure, a ``node_queued`` of a
node backing off from its timer...), applies it with :func:`transitions.apply` — the
code the orchestrator runs — and keeps it only if the transition emits exactly the
events that were recorded next.  So every state shown is one the engine computes, and
a mismatch is reported (``exact_until``) instead of papered over.

A retry timer that fires while the run has no free slot leaves ``node_ready`` (the
node waits first in line); every other status change has its event too, so the
statuses a stream implies (:func:`orchestrator.vocab.implied_changes`) are the
engine's after each transition.

Outputs are not in the stream: they come from the run as stored now (``outputs``),
which is exact for the last epoch of a retried run.  A stream trimmed at retention
has lost its start: then node statuses are read off the retained events only, from
the first retained one (``complete_from``), and the replay says it is not exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.engine.commands import Emit
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import (
    CancelRequested,
    DeadlinePassed,
    Decided,
    Event,
    NodeFailed,
    NodeStarted,
    NodeSucceeded,
    RetryRequested,
    SignalSent,
    TimerFired,
)
from orchestrator.engine.state import RunState
from orchestrator.engine.transitions import apply, start
from orchestrator.errors import DagqError
from orchestrator.spec.graph import Graph
from orchestrator.spec.model import SignalNode
from orchestrator.vocab import EventType as E
from orchestrator.vocab import NodeStatus, implied_changes

UNKNOWN = "unknown"
"""Status of a node whose history was trimmed away."""


_NO_ERROR = NodeStatus.FAILED.value
"""The error of a failure recorded without one: the word of its status."""


class Recorded(Protocol):
    """One recorded event (``store.runs.StoredEvent`` has this shape)."""

    @property
    def type(self) -> str: ...
    @property
    def at_ms(self) -> int: ...
    @property
    def node(self) -> str | None: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Replay:
    """A run after each of its recorded events."""

    start_ms: int
    at_ms: tuple[int, ...]
    """Time of each event."""
    statuses: tuple[Mapping[str, str], ...]
    """Every node's status after each event."""
    states: tuple[RunState | None, ...]
    """The engine's whole state after each event (None where the replay is not exact)."""
    initial: Mapping[str, str]
    """Statuses before the first event."""
    exact_until: int
    """Events ``[0, exact_until)`` were reproduced by the transitions."""
    complete_from: int = 0
    """The first event from which the history is complete (0 unless the stream was trimmed)."""
    trimmed: bool = False
    note: str | None = None
    """Why the replay is not exact, when it is not."""
    changes: tuple[frozenset[str], ...] = field(default=())
    """Nodes whose status changed at each event."""

    @property
    def exact(self) -> bool:
        """Every event was reproduced by the transitions."""
        return not self.trimmed and self.exact_until == len(self.at_ms)

    def index_at(self, offset_ms: int) -> int:
        """The last event at or before ``offset_ms`` after the start (-1: before the first)."""
        moment = self.start_ms + offset_ms
        found = -1
        for i, at in enumerate(self.at_ms):
            if at > moment:
                break
            found = i
        return found

    def status_at(self, index: int) -> Mapping[str, str]:
        """Statuses after event ``index`` (-1: before the first event)."""
        return self.initial if index < 0 else self.statuses[index]


def _token(epoch: int, attempt: Any) -> str:
    return f"{epoch}.{int(attempt)}"


class _Replayer:
    def __init__(
        self,
        graph: Graph,
        run: RunState,
        events: Sequence[Recorded],
        config: EngineConfig,
    ) -> None:
        self.g = graph
        self.run = run
        self.events = events
        self.cfg = config
        self.outputs = {n: dict(st.output or {}) for n, st in run.nodes.items()}

    def candidates(self, i: int, state: RunState) -> list[list[Event]]:
        """Inbox messages that may have caused event ``i`` (tried in order)."""
        e = self.events[i]
        at, node, data = e.at_ms, e.node, e.data
        st = state.nodes.get(node) if node else None
        kind = self.g.nodes[node].type if node is not None and node in self.g.nodes else None
        out: list[list[Event]] = []
        token = st.token if st is not None else None
        if e.type == E.NODE_STARTED and node:
            worker = data.get("worker")
            out.append([NodeStarted(node, _token(state.epoch, data.get("attempt", 1)), at, worker)])
        elif e.type == E.NODE_COMPLETED and node and token:
            if kind == "delay":
                out.append([TimerFired(node, token, at)])
            else:
                out.append([NodeSucceeded(node, token, at, self.outputs.get(node, {}))])
        elif e.type == E.NODE_FAILED and node and token:
            # Recorded as failed, not retrying: whatever its retries left, it ended here.
            error = str(data.get("error", _NO_ERROR))
            out.append([NodeFailed(node, token, at, error, final=True)])
        elif e.type == E.NODE_RETRYING and node and token:
            error = str(data.get("error", _NO_ERROR))
            out.append([NodeFailed(node, token, at, error, bool(data.get("timeout")))])
        elif e.type in (E.NODE_QUEUED, E.NODE_READY) and node and token and st is not None:
            out.append([TimerFired(node, token, at)])
        elif e.type == E.APPROVAL_DECIDED and node:
            by, role = str(data.get("by", "")), data.get("role")
            approve, comment = bool(data.get("approved")), str(data.get("comment", ""))
            out.append([Decided(node, at, by, role, approve, comment)])
        elif e.type == E.SIGNAL_RECEIVED:
            out.append([self._signal(data, at)])
        elif e.type == E.NODE_TIMED_OUT and node and token:
            out.append([TimerFired(node, token, at)])
        elif e.type in (E.RUN_CANCELLED, E.RUN_FAILED, E.RUN_COMPENSATING, E.NODE_CANCELLED):
            # A cancel or the deadline: its node_cancelled events come before the run's.
            out += self._stops(i)
        elif e.type == E.RUN_RETRIED:
            out += self._retries(i)
        return out

    def _signal(self, data: Mapping[str, Any], at: int) -> SignalSent:
        """The signal an event recorded; its payload is the output of the node it reached."""
        name = str(data.get("signal", ""))
        step = data.get("step") or next(
            (n for n, node in self.g.nodes.items()
             if isinstance(node, SignalNode) and node.signal == name),
            None,
        )  # fmt: skip
        return SignalSent(name, at, self.outputs.get(str(step), {}), data.get("by"))

    def _stops(self, i: int) -> list[list[Event]]:
        """A cancel request or the deadline, whichever the run's next event says."""
        j = i
        while j < len(self.events) and self.events[j].type == E.NODE_CANCELLED:
            j += 1
        if j >= len(self.events):
            return []
        e, at = self.events[j], self.events[i].at_ms
        if e.type == E.RUN_CANCELLED:
            return [[CancelRequested(at, str(e.data.get("reason", "cancelled by request")))]]
        if e.type in (E.RUN_FAILED, E.RUN_COMPENSATING):
            return [[DeadlinePassed(at)]]
        return []

    def _retries(self, i: int) -> list[list[Event]]:
        e = self.events[i]
        reset = e.data.get("reset")
        skip = tuple(
            str(n) for n, s in (reset if isinstance(reset, Mapping) else {}).items()
            if s == NodeStatus.SKIPPED
        )  # fmt: skip
        from_node = e.data.get("fromNode")
        return [
            [RetryRequested(e.at_ms, from_node, only, skip, self.run.params)]
            for only in ((False, True) if from_node else (False,))
        ]

    def matches(self, i: int, emits: Sequence[Emit]) -> bool:
        if not emits or i + len(emits) > len(self.events):
            return False
        return all(
            (ev.type, ev.node, ev.at_ms) == (em.type, em.node, em.at_ms)
            for ev, em in zip(self.events[i:], emits, strict=False)
        )


def replay(graph: Graph, run: RunState, events: Sequence[Recorded], config: EngineConfig) -> Replay:
    """``run`` (as stored now, for its outputs and parameters) after each of ``events``."""
    if not events or events[0].type != E.RUN_STARTED:
        return _from_events(graph, run, events)
    r = _Replayer(graph, run, events, config)
    state, cmds = start(
        graph,
        run_id=run.run_id,
        workflow_version=run.workflow_version,
        params=run.params,
        now_ms=events[0].at_ms,
        config=config,
        priority=run.priority,
        meta=run.meta,
    )
    initial: dict[str, str] = {n: NodeStatus.PENDING for n in graph.order}
    states: list[RunState | None] = []
    emits = [c for c in cmds if isinstance(c, Emit)]
    note: str | None = None
    if not r.matches(0, emits):
        note = "the run's start does not match its first events"
    else:
        states += [state] * len(emits)
    while note is None and len(states) < len(events):
        i = len(states)
        # The candidate that reproduces the most recorded events wins (on a tie the later).
        best: tuple[RunState, int] | None = None
        for batch in r.candidates(i, state):
            try:
                new, emitted = _apply_all(graph, state, batch, config)
            except DagqError:
                continue
            if r.matches(i, emitted) and (best is None or len(emitted) >= best[1]):
                best = (new, len(emitted))
        if best is not None:
            state = best[0]
            states += [state] * best[1]
        else:
            e = events[i]
            note = f"event {i + 1} ({e.type} {e.node or ''}) could not be reproduced".replace(
                " )", ")"
            )
    exact_until = len(states)
    statuses: list[dict[str, str]] = [
        {n: s.status for n, s in st.nodes.items()} for st in states if st is not None
    ]
    last = dict(statuses[-1]) if statuses else dict(initial)
    for e in events[exact_until:]:
        last = _overlay(last, e)
        statuses.append(last)
    full: list[RunState | None] = [*states, *([None] * (len(events) - exact_until))]
    return Replay(
        start_ms=run.start_ms,
        at_ms=tuple(e.at_ms for e in events),
        statuses=tuple(statuses),
        states=tuple(full),
        initial=initial,
        exact_until=exact_until,
        note=note,
        changes=_changes(initial, statuses),
    )


def _apply_all(
    graph: Graph, state: RunState, batch: Sequence[Event], config: EngineConfig
) -> tuple[RunState, list[Emit]]:
    emitted: list[Emit] = []
    for event in batch:
        state, cmds = apply(graph, state, event, config)
        emitted += [c for c in cmds if isinstance(c, Emit)]
    return state, emitted


def _overlay(statuses: Mapping[str, str], e: Recorded) -> dict[str, str]:
    """What a trimmed stream can still tell: the statuses its events imply."""
    return {**statuses, **implied_changes(e.type, e.node, e.data)[1]}


def _from_events(graph: Graph, run: RunState, events: Sequence[Recorded]) -> Replay:
    initial = {n: UNKNOWN for n in graph.order}
    statuses: list[dict[str, str]] = []
    last = dict(initial)
    for e in events:
        last = _overlay(last, e)
        statuses.append(last)
    return Replay(
        start_ms=run.start_ms,
        at_ms=tuple(e.at_ms for e in events),
        statuses=tuple(statuses),
        states=tuple(None for _ in events),
        initial=initial,
        exact_until=0,
        complete_from=0,
        trimmed=True,
        note=(
            "the run's oldest events were trimmed at retention: history is complete from "
            "its first retained event; statuses before a node's first retained event are unknown"
        ),
        changes=_changes(initial, statuses),
    )


def _changes(
    initial: Mapping[str, str], statuses: Sequence[Mapping[str, str]]
) -> tuple[frozenset[str], ...]:
    out: list[frozenset[str]] = []
    prev = initial
    for cur in statuses:
        out.append(frozenset(n for n, s in cur.items() if prev.get(n) != s))
        prev = cur
    return tuple(out)
