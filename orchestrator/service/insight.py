"""What happened in past runs: replay, Gantt and critical path, comparison, statistics.

Reads a run's state, its pinned spec version and its recorded events, and hands them to
the pure modules :mod:`orchestrator.engine.replay`, :mod:`orchestrator.engine.timeline`
and :mod:`orchestrator.engine.compare`.  Answers are plain dicts for the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.engine import timeline as tl
from orchestrator.engine.compare import compare_runs, node_stats
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.replay import replay
from orchestrator.engine.state import NodeState, RunState
from orchestrator.errors import BadRequest, NotFound
from orchestrator.service.runs import RunService
from orchestrator.service.views import iso
from orchestrator.spec.diff import compare as compare_specs
from orchestrator.spec.export import spec_to_data
from orchestrator.spec.graph import Graph
from orchestrator.store.event_codec import StoredEvent
from orchestrator.vocab import EventType

_PAGE = 1000
Offload = Callable[..., Awaitable[Any]]
"""Runs a pure function off the event loop (the API's CPU pool; a thread by default)."""


@dataclass(frozen=True, slots=True)
class History:
    """A run with its graph and every retained event."""

    state: RunState
    graph: Graph
    events: list[StoredEvent]

    @property
    def complete(self) -> bool:
        """The stream still starts with the run's start (nothing was trimmed)."""
        return bool(self.events) and self.events[0].type == EventType.RUN_STARTED


def node_view(st: NodeState) -> dict[str, Any]:
    """One node of a replayed state, as the node panel shows it."""
    return {
        "status": st.status,
        "attempts": st.attempts,
        "input": dict(st.input) if st.input is not None else None,
        "output": dict(st.output) if st.output is not None else None,
        "error": st.last_error,
        "worker": st.worker,
        "startTime": iso(st.start_ms),
        "endTime": iso(st.end_ms),
    }


class Insight:
    """Replay, timelines, comparisons and statistics over stored runs."""

    def __init__(self, runs: RunService, offload: Offload | None = None) -> None:
        self.svc = runs
        self.offload: Offload = offload or asyncio.to_thread

    async def history(self, run_id: str) -> History:
        """The run, its pinned graph and its events (``NotFound`` for an unknown run)."""
        state = await self.svc.get(run_id)
        graph = await self.svc.specs.graph(state.workflow_id, state.workflow_version)
        events: list[StoredEvent] = []
        after: str | None = None
        while True:
            page = await self.svc.runs.events(run_id, after=after, count=_PAGE)
            events += page
            if len(page) < _PAGE:
                return History(state, graph, events)
            after = page[-1].id

    async def replay_at(
        self, run_id: str, *, at_s: float | None = None, event: int | None = None
    ) -> dict[str, Any]:
        """Node statuses at ``at_s`` seconds after the start, or after event number ``event``."""
        if at_s is not None and event is not None:
            raise BadRequest("give either at (seconds) or event (number), not both")
        h = await self.history(run_id)
        out: dict[str, Any] = await self.offload(_replay_at, h, self.svc.config, at_s, event)
        return out

    async def frames(self, run_id: str) -> dict[str, Any]:
        """Every step of the replay: the event and the nodes it changed (for a replay bar)."""
        h = await self.history(run_id)
        out: dict[str, Any] = await self.offload(_frames, h, self.svc.config)
        return out

    async def gantt(self, run_id: str) -> dict[str, Any]:
        """One bar per node attempt and the critical path (times in ms from the start)."""
        h = await self.history(run_id)
        out: dict[str, Any] = await self.offload(_gantt, h)
        out |= {
            "runId": run_id,
            "workflowId": h.state.workflow_id,
            "workflowVersion": h.state.workflow_version,
            "status": h.state.status,
            "startTime": iso(h.state.start_ms),
            "completeFrom": iso(h.events[0].at_ms) if h.events else None,
        }
        return out

    async def diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        """Two runs of one workflow side by side."""
        a, b = await self.history(run_a), await self.history(run_b)
        if a.state.workflow_id != b.state.workflow_id:
            raise BadRequest(
                f"runs {run_a} and {run_b} are of different workflows "
                f"({a.state.workflow_id!r}, {b.state.workflow_id!r}); compare runs of one workflow"
            )
        version_diff: dict[str, str] = {}
        if a.state.workflow_version != b.state.workflow_version:
            _, kinds = compare_specs(spec_to_data(a.graph.spec), spec_to_data(b.graph.spec))
            version_diff = dict(kinds)
        (da, ea), (db, eb) = [await self.offload(_durations, h) for h in (a, b)]
        return compare_runs(a.state, b.state, da, db, version_diff, (ea, eb))

    async def stats(self, workflow_id: str, last: int) -> dict[str, Any]:
        """p50/p95 duration per node over the workflow's last ``last`` finished runs."""
        await self.svc.workflows.get(workflow_id)  # NotFound for an unknown workflow
        ids, _ = await self.svc.runs.run_ids(workflow_id=workflow_id, limit=min(4 * last, 1000))
        per_run: list[dict[str, int]] = []
        execution: list[dict[str, int]] = []
        used: list[str] = []
        for run_id in ids:
            if len(used) >= last:
                break
            try:
                h = await self.history(run_id)
            except NotFound:
                continue
            if not h.state.terminal:
                continue
            durations, running = await self.offload(_durations, h)
            per_run.append(durations)
            execution.append(running)
            used.append(run_id)
        return {
            "workflowId": workflow_id,
            "runs": len(used),
            "runIds": used,
            "nodes": node_stats(per_run, execution),
        }


def _replay_at(
    h: History, cfg: EngineConfig, at_s: float | None, event: int | None
) -> dict[str, Any]:
    r = replay(h.graph, h.state, h.events, cfg)
    run_id = h.state.run_id
    total = len(h.events)
    if event is not None:
        if not 0 <= event <= total:
            raise BadRequest(f"run {run_id} has events 1 to {total}; there is no event {event}")
        index = event - 1
    elif at_s is not None:
        index = r.index_at(round(at_s * 1000))
    else:
        index = total - 1
    moment = r.at_ms[index] if index >= 0 else r.start_ms
    state = r.states[index] if index >= 0 else None
    out: dict[str, Any] = {
        "runId": run_id,
        "at": round((moment - r.start_ms) / 1000, 3) if at_s is None else at_s,
        "event": index + 1,
        "events": total,
        "time": iso(moment),
        "nodes": dict(r.status_at(index)),
        "exact": r.exact,
        "completeFrom": iso(h.events[0].at_ms) if h.events else None,
        "note": r.note,
    }
    if state is not None:
        out["status"] = state.status
    if index >= 0:
        e = h.events[index]
        out["lastEvent"] = {"type": e.type, "nodeId": e.node, "time": iso(e.at_ms)}
    return out


def _frames(h: History, cfg: EngineConfig) -> dict[str, Any]:
    r = replay(h.graph, h.state, h.events, cfg)
    run_id = h.state.run_id
    steps = []
    prev: Mapping[str, NodeState] = {}
    for i, e in enumerate(h.events):
        state = r.states[i]
        if state is not None:
            changed = {n: node_view(s) for n, s in state.nodes.items() if prev.get(n) != s}
            prev = state.nodes
            status: str | None = state.status
        else:
            changed = {n: {"status": r.statuses[i][n]} for n in r.changes[i]}
            status = None
        steps.append(
            {
                "id": e.id,
                "type": e.type,
                "nodeId": e.node,
                "time": iso(e.at_ms),
                "offsetMs": e.at_ms - r.start_ms,
                "data": e.data,
                "runStatus": status,
                "nodes": changed,
            }
        )
    return {
        "runId": run_id,
        "workflowId": h.state.workflow_id,
        "workflowVersion": h.state.workflow_version,
        "startTime": iso(r.start_ms),
        "initial": dict(r.initial),
        "steps": steps,
        "exact": r.exact,
        "exactUntil": r.exact_until,
        "complete": h.complete,
        "completeFrom": iso(h.events[0].at_ms) if h.events else None,
        "note": r.note,
    }


def _gantt(h: History) -> dict[str, Any]:
    return tl.to_json(tl.build(h.graph, h.events, h.state.start_ms))


def _durations(h: History) -> tuple[dict[str, int], dict[str, int]]:
    """Each node's duration (release to end) and time executing, in ms."""
    timeline = tl.build(h.graph, h.events, h.state.start_ms)
    return tl.node_durations(timeline), tl.node_execution(timeline)
