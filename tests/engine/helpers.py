"""A small driver over the pure transitions, so each test reads as a script of events.

Nothing here decides semantics: every step goes through ``start``/``apply``, and
tests assert on the states and commands those return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

from orchestrator.engine.commands import Command, Dispatch, Emit, Finished, StartTimer
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import (
    CancelRequested,
    DeadlinePassed,
    Event,
    NodeFailed,
    NodeStarted,
    NodeSucceeded,
    RetryRequested,
    TimerFired,
)
from orchestrator.engine.state import NodeState, RunState
from orchestrator.engine.transitions import apply, start
from orchestrator.protocol import Job
from orchestrator.spec.graph import Graph, compile_graph
from orchestrator.spec.model import WorkflowSpec

T0 = 1_700_000_000_000
"""Start time of every driven run (ms); an arbitrary instant well after the epoch."""


def graph_of(spec: Mapping[str, Any]) -> Graph:
    """Validate a spec dict (``id``/``name`` filled in when absent) and compile it."""
    data = {"id": "wf", "name": "wf", **spec}
    return compile_graph(WorkflowSpec.model_validate(data))


def task(node_id: str, **extra: Any) -> dict[str, Any]:
    """A task node whose handler is named after it."""
    return {"id": node_id, "type": "task", "handler": f"h_{node_id}", **extra}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    """An edge ``source -> target``."""
    return {"source": source, "target": target, **extra}


def chain(*ids: str) -> list[dict[str, Any]]:
    """Edges linking ``ids`` in order."""
    return [edge(a, b) for a, b in pairwise(ids)]


def dispatched(commands: Iterable[Command]) -> list[Job]:
    """Jobs of the Dispatch commands, in order."""
    return [c.job for c in commands if isinstance(c, Dispatch)]


def dispatched_nodes(commands: Iterable[Command]) -> list[str]:
    """Node ids of the Dispatch commands, in order."""
    return [job.node for job in dispatched(commands)]


def emitted(commands: Iterable[Command]) -> list[str]:
    """Types of the Emit commands, in order."""
    return [c.type for c in commands if isinstance(c, Emit)]


def emits(commands: Iterable[Command]) -> list[Emit]:
    """The Emit commands, in order."""
    return [c for c in commands if isinstance(c, Emit)]


def emitted_for(commands: Iterable[Command], node: str) -> list[str]:
    """Types of the Emit commands about ``node``, in order."""
    return [c.type for c in commands if isinstance(c, Emit) and c.node == node]


def timers(commands: Iterable[Command]) -> list[StartTimer]:
    """The StartTimer commands, in order."""
    return [c for c in commands if isinstance(c, StartTimer)]


def finished(commands: Iterable[Command]) -> list[str]:
    """Statuses of the Finished commands (at most one is expected)."""
    return [c.status for c in commands if isinstance(c, Finished)]


class Run:
    """One run driven event by event; keeps every command it saw."""

    def __init__(
        self,
        spec: Mapping[str, Any] | Graph,
        params: Mapping[str, Any] | None = None,
        *,
        config: EngineConfig | None = None,
        now_ms: int = T0,
        run_id: str = "r1",
    ) -> None:
        self.graph = spec if isinstance(spec, Graph) else graph_of(spec)
        self.cfg = config or EngineConfig()
        self.now = now_ms
        self.state, self.last = start(
            self.graph,
            run_id=run_id,
            workflow_version=1,
            params=params or {},
            now_ms=now_ms,
            config=self.cfg,
        )
        self.history: list[Command] = list(self.last)

    # -- reading ---------------------------------------------------------------
    def node(self, node_id: str) -> NodeState:
        """The current state of one node."""
        return self.state.nodes[node_id]

    def run_status(self) -> str:
        """The run's status (a call, so type checkers do not narrow it across events)."""
        return self.state.status

    def status(self, node_id: str) -> str:
        """The current status of one node."""
        return self.node(node_id).status

    def statuses(self) -> dict[str, str]:
        """Every node's status."""
        return {n: st.status for n, st in self.state.nodes.items()}

    def token(self, node_id: str) -> str:
        """The node's live attempt token."""
        token = self.node(node_id).token
        assert token is not None, f"{node_id} has no attempt"
        return token

    def job(self, node_id: str) -> Job:
        """The most recent job dispatched for ``node_id``."""
        for job in reversed(dispatched(self.history)):
            if job.node == node_id:
                return job
        raise AssertionError(f"{node_id} was never dispatched")

    def events(self) -> list[str]:
        """Every event type emitted so far."""
        return emitted(self.history)

    # -- acting ------------------------------------------------------------------
    def send(self, event: Event) -> list[Command]:
        """Apply one event; returns its commands (also kept in ``history``)."""
        self.now = max(self.now, event.at_ms)
        self.state, self.last = apply(self.graph, self.state, event, self.cfg)
        self.history.extend(self.last)
        return self.last

    def tick(self, ms: int = 1) -> int:
        """Advance the clock; returns the new now."""
        self.now += ms
        return self.now

    def begin(self, node_id: str) -> list[Command]:
        """The worker holding the live attempt started it."""
        return self.send(NodeStarted(node_id, self.token(node_id), self.tick(), worker="w1"))

    def succeed(self, node_id: str, output: Mapping[str, Any] | None = None) -> list[Command]:
        """Start (when still queued) then succeed the live attempt; the success's commands."""
        if self.status(node_id) == "queued":
            self.begin(node_id)
        return self.send(NodeSucceeded(node_id, self.token(node_id), self.tick(), output or {}))

    def fail(self, node_id: str, error: str = "boom", *, timed_out: bool = False) -> list[Command]:
        """Start (when still queued) then fail the live attempt; the failure's commands."""
        if self.status(node_id) == "queued":
            self.begin(node_id)
        event = NodeFailed(node_id, self.token(node_id), self.tick(), error, timed_out=timed_out)
        return self.send(event)

    def fire(self, node_id: str) -> list[Command]:
        """The node's timer is due: fire it at its due time (or now, if later)."""
        st = self.node(node_id)
        assert st.due_ms is not None, f"{node_id} has no timer"
        self.now = max(self.now, st.due_ms)
        return self.send(TimerFired(node_id, self.token(node_id), self.now))

    def fail_for_good(self, node_id: str, error: str = "boom") -> list[Command]:
        """Fail every remaining attempt of a node (firing the backoff timers between)."""
        out = self.fail(node_id, error)
        while self.status(node_id) == "waiting":
            self.fire(node_id)
            out = self.fail(node_id, error)
        return out

    def cancel(self) -> list[Command]:
        """Ask to cancel the run."""
        return self.send(CancelRequested(self.tick()))

    def deadline(self) -> list[Command]:
        """The run's deadline timer fired at the deadline."""
        assert self.state.deadline_ms is not None
        self.now = max(self.now, self.state.deadline_ms)
        return self.send(DeadlinePassed(self.now))

    def retry(self, from_node: str | None = None, *, only_node: bool = False) -> list[Command]:
        """Ask to retry the finished run."""
        return self.send(RetryRequested(self.tick(), from_node=from_node, only_node=only_node))


def assert_unchanged(run: Run, event: Event) -> None:
    """``event`` is stale: the very same state comes back and nothing is emitted."""
    before: RunState = run.state
    after, commands = apply(run.graph, before, event, run.cfg)
    assert commands == []
    assert after is before
