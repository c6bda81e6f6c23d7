"""Starting, reading, cancelling, retrying and waiting for runs.

Handlers do not know HTTP: the API, the command line and the TUI's local mode all
call these functions.  Writes go through the pure transitions and the executor's
compare-and-set, retried when another process changed the run meanwhile.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import redis.asyncio as aioredis

from orchestrator.engine import transitions
from orchestrator.engine.commands import Dispatch
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import CancelRequested, Event, RetryRequested
from orchestrator.engine.params import resolve_params
from orchestrator.engine.state import RunState
from orchestrator.errors import Conflict, DagqError, NotFound, SpecInvalid
from orchestrator.keys import Keys
from orchestrator.security.handler_gate import HandlerGate, PublishedGate, require
from orchestrator.service.queue_depth import QueueDepth
from orchestrator.service.specs import SpecCache
from orchestrator.service.views import iso, run_view
from orchestrator.service.waiting import add_waiting
from orchestrator.settings import Settings
from orchestrator.sizes import format_bytes
from orchestrator.spec.graph import Graph
from orchestrator.spec.model import Resources, RunnableNode
from orchestrator.spec.validator import validate_spec
from orchestrator.store.attempt_logs import AttemptLogEntry, AttemptLogs
from orchestrator.store.event_codec import StoredEvent
from orchestrator.store.queue_admin import DeadLetter, QueueAdmin
from orchestrator.store.replicas import ReplicaWait
from orchestrator.store.runs import RunStore
from orchestrator.store.workers import LiveWorkers, WorkerInfo
from orchestrator.store.workflows import WorkflowStore
from orchestrator.vocab import IN_FLIGHT, TERMINAL_RUN, NodeStatus

_CAS_ATTEMPTS = 50


def now_ms() -> int:
    """Wall-clock milliseconds (UTC epoch)."""
    return int(time.time() * 1000)


def new_run_id() -> str:
    """A unique run id that sorts by creation time."""
    return f"run-{now_ms():011x}{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One row of a run listing (the reference's WorkflowRunSummary)."""

    id: str
    workflow_id: str
    workflow_version: int
    status: str
    start_ms: int
    end_ms: int | None
    error: str | None

    def to_api(self) -> dict[str, Any]:
        """camelCase JSON."""
        d: dict[str, Any] = {
            "id": self.id,
            "runId": self.id,
            "workflowId": self.workflow_id,
            "workflowVersion": self.workflow_version,
            "status": self.status,
            "startTime": iso(self.start_ms),
        }
        if self.end_ms is not None:
            d["endTime"] = iso(self.end_ms)
            d["duration"] = max(0, self.end_ms - self.start_ms)
        if self.error:
            d["error"] = self.error
        return d


def _no_fit(live: list[WorkerInfo], handler: str, request: Resources) -> str | None:
    """Why no live worker offering ``handler`` could ever run ``request`` (None: one can)."""
    memory, cpu = request.memory or 0, request.cpu or 0.0
    offering = [w for w in live if handler in w.handlers]
    if any(w.fits(memory, cpu) for w in offering):
        return None
    wanted = []
    if memory:
        most = max(w.resources.get("capacity", {}).get("memory", 0) for w in offering)
        wanted.append(f"memory {format_bytes(memory)} (the largest offers {format_bytes(most)})")
    if cpu:
        most_cpu = max(w.resources.get("capacity", {}).get("cpu", 0) for w in offering)
        wanted.append(f"cpu {cpu:g} (the largest offers {most_cpu:g})")
    return f"no live worker offering handler {handler!r} can fit its request: " + ", ".join(wanted)


def handlers_of(graph: Graph) -> set[str]:
    """The handlers a workflow's nodes run."""
    return {n.handler for n in graph.nodes.values() if isinstance(n, RunnableNode)}


LIVE_WORKERS_FOR_S = 1.0
"""How long a read of the live workers serves runs' views."""


class RunService:
    """Everything a client may ask about runs."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.config = EngineConfig.from_settings(settings)
        self.workflows = WorkflowStore(redis, keys)
        self.specs = SpecCache(self.workflows)
        self.gate: HandlerGate = PublishedGate(redis, keys)
        """Who may execute which handler (the API replaces it with its own policy's)."""
        self.runs = RunStore(
            redis,
            keys,
            retention_s=settings.workflow.storage.ttl,
            event_maxlen=settings.queue.event_retention,
            replicas=ReplicaWait.from_settings(redis, settings),
        )
        self.depth = QueueDepth(redis, keys, settings, self.runs)
        self._runnable: dict[tuple[str, int], Graph] = {}
        self._live: tuple[float, list[WorkerInfo]] = (-LIVE_WORKERS_FOR_S, [])

    # -- start -----------------------------------------------------------------------
    async def start(
        self,
        workflow_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        priority: int | None = None,
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        run_as: str | None = None,
    ) -> RunState:
        """Start a run of the workflow's current (or given) version.

        Parameters are checked before anything is queued; ``ParameterError`` names
        every problem.  ``LimitExceeded`` when ``max_concurrent_runs`` are active.
        ``run_id`` is given by :mod:`orchestrator.service.idempotent` (reserved first).
        ``run_as`` is the user whose handler permissions the run executes with (the
        API's user, a schedule's or webhook's owner): ``Forbidden`` naming the handler
        when it may not execute one; recorded so workers check it again at each node.
        """
        if version is None:
            version = await self.workflows.current_version(workflow_id)
        graph = await self.specs.graph(workflow_id, version)
        self._check_runnable(graph)
        await require(self.gate, run_as, handlers_of(graph), f"start a run of {workflow_id!r}")
        await self.depth.check(graph.spec)
        resolved = resolve_params(graph.spec, params)
        meta: dict[str, Any] = dict(metadata or {})
        if user:
            meta["startedBy"] = user
        if run_as:
            meta["runAs"] = run_as
        state, commands = transitions.start(
            graph,
            run_id=run_id or new_run_id(),
            workflow_version=version,
            params=resolved,
            now_ms=now_ms(),
            config=self.config,
            priority=priority if priority is not None else (graph.spec.config.priority or 5),
            meta=meta,
        )
        per_shard = -(-self.settings.execution.max_concurrent_runs // self.keys.shards)
        await self.runs.create(state, commands, max_active=per_shard)
        self.depth.started(graph.spec.id, sum(isinstance(c, Dispatch) for c in commands))
        return state

    def _check_runnable(self, graph: Graph) -> None:
        # A stored version never changes, and the graph cache hands out one Graph per
        # version: validate each once (it was a fifth of a run start's CPU).
        key = (graph.spec.id, graph.spec.version or 0)
        if self._runnable.get(key) is graph:
            return
        result = validate_spec(graph.spec, max_nodes=self.settings.execution.max_nodes_per_workflow)
        if not result.valid:
            errors = result.to_dict()["errors"]
            raise SpecInvalid(
                f"workflow {graph.spec.id!r} is not valid: {errors[0]['message']}",
                details={"errors": errors},
            )
        if len(self._runnable) >= 1024:
            self._runnable.clear()
        self._runnable[key] = graph

    # -- read ------------------------------------------------------------------------
    async def get(self, run_id: str) -> RunState:
        """The run's current state; ``NotFound`` when it does not exist (or expired)."""
        state, _ = await self.runs.load(run_id)
        return state

    async def view(self, run_id: str) -> dict[str, Any]:
        """The run as the API shows it, with node names and waiting reasons."""
        state = await self.get(run_id)
        return await self.describe(state)

    async def describe(self, state: RunState, *, new: bool = False) -> dict[str, Any]:
        """:func:`run_view` plus node names, and for queued nodes whether a worker offers them.

        ``new``: the run was started just now, so none of its jobs can be dead-lettered yet
        (the dead letters are not read).
        """
        names: dict[str, str] = {}
        handlers: dict[str, str] = {}
        requests: dict[str, Resources] = {}
        graph_ok = False
        try:
            graph = await self.specs.graph(state.workflow_id, state.workflow_version)
            for node_id, node in graph.nodes.items():
                if node.name:
                    names[node_id] = node.name
                if isinstance(node, RunnableNode):
                    handlers[node_id] = node.handler
                    if node.resources is not None:
                        requests[node_id] = node.resources
            # Show nodes in the order the spec lists them (a hash has no order).
            ordered = {n: state.nodes[n] for n in graph.order if n in state.nodes}
            state = replace(state, nodes={**ordered, **state.nodes})
            graph_ok = True
        except DagqError:
            pass  # the workflow was deleted: show the run without names
        view = run_view(state, names)
        if graph_ok:
            add_waiting(view, graph, state)
        queued = [n for n, st in state.nodes.items() if st.status in IN_FLIGHT and n in handlers]
        if queued:
            live = await self._live_workers()
            offered = {h for w in live for h in w.handlers}
            dead = {} if new else await self._dead_lettered(state)
            warnings = []
            for node_id in queued:
                handler = handlers[node_id]
                letter = dead.get((node_id, state.nodes[node_id].token or ""))
                if letter is not None:
                    note = (
                        f"dead-lettered after {letter.deliveries} deliveries ({letter.reason}); "
                        f"requeue or purge dead letter {letter.entry_id}"
                    )
                    view["nodes"][node_id]["deadLetter"] = letter.to_dict()
                elif state.nodes[node_id].status == NodeStatus.QUEUED and handler not in offered:
                    note = f"no live worker offers handler {handler!r}"
                elif state.nodes[node_id].status == NodeStatus.QUEUED and node_id in requests:
                    found = _no_fit(live, handler, requests[node_id])
                    if found is None:
                        continue
                    note = found
                else:
                    continue
                view["nodes"][node_id]["waitingFor"] = note
                warnings.append(f"{node_id}: {note}")
            if warnings:
                view["warnings"] = warnings
        return view

    async def _live_workers(self) -> list[WorkerInfo]:
        """The live workers, read at most once per :data:`LIVE_WORKERS_FOR_S`: a run's
        view only warns with them, and they announce themselves seconds apart anyway
        (it was 2 of a status query's 4 round trips)."""
        at, live = self._live
        if time.monotonic() - at >= LIVE_WORKERS_FOR_S:
            live = await LiveWorkers(self.redis, self.keys, self.settings).live_workers()
            self._live = (time.monotonic(), live)
        return live

    async def _dead_lettered(self, state: RunState) -> dict[tuple[str, str], DeadLetter]:
        """This run's jobs in its shard's dead-letter stream, by (node, token)."""
        shard = self.keys.shard_of(state.run_id)
        if not await self.redis.xlen(self.keys.dead_letters(shard)):
            return {}
        admin = QueueAdmin(self.redis, self.keys)
        letters = await admin.dead_letters(shard, count=10_000)
        return {
            (d.job.node, d.job.token): d
            for d in letters
            if d.job is not None and d.job.run == state.run_id
        }

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
        since_ms: int | None = None,
    ) -> tuple[list[RunSummary], int]:
        """Runs newest first, optionally of one workflow, one status, started since a time."""
        if status is None:
            ids, total = await self.runs.run_ids(
                workflow_id=workflow_id, limit=limit, offset=offset, since_ms=since_ms
            )
            metas = await self.runs.load_meta_many(ids)
            gone = [rid for rid in ids if rid not in metas]
            if gone:
                await self.runs.forget(gone, workflow_id)
            return [_summary(metas[r]) for r in ids if r in metas], total
        # A status filter reads metas in pages until the requested page is full.
        out: list[RunSummary] = []
        matched = 0
        page, scan_offset = 200, 0
        while True:
            ids, total = await self.runs.run_ids(
                workflow_id=workflow_id, limit=page, offset=scan_offset, since_ms=since_ms
            )
            if not ids:
                break
            metas = await self.runs.load_meta_many(ids)
            for rid in ids:
                meta = metas.get(rid)
                if meta is None or meta["status"] != status:
                    continue
                if offset <= matched < offset + limit:
                    out.append(_summary(meta))
                matched += 1
            scan_offset += page
            if scan_offset >= total:
                break
        return out, matched

    async def events(
        self, run_id: str, *, after: str | None = None, count: int = 1000
    ) -> list[StoredEvent]:
        """The run's events after stream id ``after``; ``NotFound`` for an unknown run."""
        if not await self.redis.exists(self.keys.run(run_id)):
            await self.runs.load(run_id)  # raises NotFound
        return await self.runs.events(run_id, after=after, count=count)

    # -- change ----------------------------------------------------------------------
    async def _change(self, run_id: str, event: Event) -> RunState:
        for _ in range(_CAS_ATTEMPTS):
            state, version = await self.runs.load(run_id)
            graph = await self.specs.graph(state.workflow_id, state.workflow_version)
            new, commands = transitions.apply(graph, state, event, self.config)
            if new is state:
                return state
            if await self.runs.write(state, new, commands, version) is not None:
                return new
        raise Conflict(f"run {run_id} is changing too fast to update; try again")

    async def cancel(self, run_id: str, reason: str = "cancelled by request") -> RunState:
        """Cancel a pending or running run; ``Conflict`` when it has ended."""
        return await self._change(run_id, CancelRequested(at_ms=now_ms(), reason=reason))

    async def retry(
        self,
        run_id: str,
        *,
        from_node: str | None = None,
        only_node: bool = False,
        skip_nodes: tuple[str, ...] = (),
        params: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> RunState:
        """Run a failed, cancelled or compensated run again from its failure (or a node).

        ``skip_nodes`` are not run again (their successors go on); ``params`` override
        the run's parameters and are checked against the declarations as at start.
        ``user`` must be allowed every handler of the run's workflow (``Forbidden``).
        """
        resolved: dict[str, Any] | None = None
        if params is not None or user:
            state = await self.get(run_id)
            graph = await self.specs.graph(state.workflow_id, state.workflow_version)
            await require(self.gate, user, handlers_of(graph), f"retry run {run_id}")
            if params is not None:
                resolved = resolve_params(graph.spec, {**state.params, **params})
        event = RetryRequested(
            at_ms=now_ms(),
            from_node=from_node,
            only_node=only_node,
            skip_nodes=skip_nodes,
            params=resolved,
        )
        return await self._change(run_id, event)

    async def logs(
        self,
        run_id: str,
        *,
        node_id: str | None = None,
        after: str | None = None,
        count: int = 100,
    ) -> tuple[list[AttemptLogEntry], str | None]:
        """What the run's handlers logged, one entry per attempt, oldest first (only
        ``node_id``'s when given); and the id to read on from.  NotFound for a run or
        node that does not exist."""
        state = await self.get(run_id)
        if node_id is not None and node_id not in state.nodes:
            raise NotFound(f"run {run_id} has no node {node_id!r}")
        limits = self.settings.limits
        store = AttemptLogs(
            self.redis,
            self.keys,
            ttl_s=self.settings.workflow.storage.ttl + limits.max_workflow_duration,
        )
        return await store.read(run_id, node=node_id, after=after, count=count)

    async def wait(self, run_id: str, *, timeout_s: float | None = None) -> RunState:
        """Block until the run ends (or ``timeout_s`` passes); return its state."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        state = await self.get(run_id)
        last = "0-0"
        stream = self.keys.run_events(run_id)
        while state.status not in TERMINAL_RUN:
            block_ms = 1000
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return state
                block_ms = max(1, min(block_ms, int(left * 1000)))
            reply: Any = await self.redis.xread({stream: last}, count=500, block=block_ms)
            for _, entries in reply or []:
                if entries:
                    last = entries[-1][0].decode()
            state = await self.get(run_id)
        return state


def _summary(meta: Mapping[str, Any]) -> RunSummary:
    return RunSummary(
        id=meta["id"],
        workflow_id=meta["wf"],
        workflow_version=int(meta["ver"]),
        status=meta["status"],
        start_ms=int(meta["start"]),
        end_ms=meta.get("end"),
        error=meta.get("error"),
    )
