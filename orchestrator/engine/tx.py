"""One transition in progress: a scratch copy of a run that the rules edit.

The public functions in :mod:`orchestrator.engine.transitions` build a ``Tx`` from
an immutable :class:`RunState`, let the rules edit it (one event, or a batch of them),
and freeze the result once.  A node the transition changes is thawed on its first
change into a :class:`NodeRecord` (a mutable ``NodeState``, edited in place however
often the rules change it) and frozen back at the end by turning its class: no copy
per field change.  A rule that needs a node's old values reads them before it changes
the node (the record it holds changes with it).
Nothing here does I/O; time comes in as ``now_ms``.  What a node does once its
inputs are there is its kind's business: ``Tx`` is handed the table of kinds
(:data:`orchestrator.engine.kinds.KINDS`) and imports none of them, nor the saga.

Readiness and skipping follow Airflow's ``none_failed_min_one_success``: a node
with several incoming edges runs once every predecessor has settled and at least
one edge into it was taken; a node none of whose incoming edges was taken is
skipped, and skipping propagates.  Parallel joins may instead wait for ``any`` or
``n_of_m`` taken edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from orchestrator.engine.commands import Command, Dispatch, Emit, Finished, PostInbox
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.items import PendingItems
from orchestrator.engine.state import PARENT, NodeState, RunState, item_key
from orchestrator.keys import lane_for_priority
from orchestrator.protocol import InboxMessage, Job, JobKind
from orchestrator.spec.graph import Graph
from orchestrator.spec.model import AnyNode, Edge, RunnableNode
from orchestrator.vocab import (
    ACTIVE,
    DEAD_FOR_SUCCESSORS,
    DONE_FOR_SUCCESSORS,
    IN_FLIGHT,
    EventType,
    NodeStatus,
    RunStatus,
)

TAKEN, NOT_TAKEN, OPEN = 1, 0, -1
_SETTLED_ITEM = frozenset({NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.CANCELLED})
NOT_NEEDED = "not needed: nothing to undo"
"""Why a compensation is skipped when its run ends without running it."""


class NodeRecord(NodeState):
    """A node's state while one transition edits it: a ``NodeState`` whose fields can be
    set.  Only :class:`Tx` makes them, and :meth:`Tx.freeze` turns them into plain
    ``NodeState`` (same slots: the object stays, its class changes)."""

    __slots__ = ()
    __setattr__ = object.__setattr__


_NODE_FIELDS = NodeState.__slots__
_new_record = object.__new__


def _thaw(state: NodeState) -> NodeRecord:
    """A record with ``state``'s values."""
    record: NodeRecord = _new_record(NodeRecord)
    for name in _NODE_FIELDS:
        object.__setattr__(record, name, getattr(state, name))
    return record


class Rules(Protocol):
    """What a transition asks of a node kind (``orchestrator.engine.kinds.KINDS``)."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        """The node's inputs are there."""

    def join_need(self, node: AnyNode, edges: int) -> int | None:
        """How many incoming edges must be taken (None: the default rule)."""


class Tx:
    """Mutable scratch state of one transition."""

    def __init__(
        self,
        graph: Graph,
        state: RunState,
        config: EngineConfig,
        now_ms: int,
        kinds: Mapping[str, Rules],
    ) -> None:
        self.g = graph
        self.kinds = kinds
        self.cfg = config
        self.now = now_ms
        self.base = state
        self.nodes: dict[str, NodeState] = dict(state.nodes)
        self._thawed: list[NodeRecord] = []
        self.items = PendingItems(state.items)
        """Map items with this transition's changes (frozen into a new table at the end)."""
        self.status: RunStatus = state.status
        self.error = state.error
        self.error_node = state.error_node
        self.end_ms = state.end_ms
        self.seq = state.seq
        self.epoch = state.epoch
        self.deadline_ms = state.deadline_ms
        self.ready: list[str] = list(state.ready)
        self.comp_queue: list[str] = list(state.compensation_queue)
        self.comp_failed = state.compensation_failed
        self.comp_started = state.compensation_started
        self.output = state.output
        self.signals: dict[str, tuple[Mapping[str, Any], ...]] = dict(state.signals)
        self.commands: list[Command] = []
        self.inflight = sum(1 for n in state.nodes.values() if n.status in IN_FLIGHT)
        self.max_parallel = config.max_parallel_for(graph.spec)

    # -- bookkeeping -------------------------------------------------------------
    def set(self, node_id: str, **changes: Any) -> NodeState:
        """Change fields of a node's state, keeping the in-flight count right.

        The node's record is changed in place: a state read from ``nodes`` before this
        call may be that record, so read what the change overwrites first."""
        record = self.nodes[node_id]
        if type(record) is not NodeRecord:
            record = _thaw(record)
            self.nodes[node_id] = record
            self._thawed.append(record)
        was = record.status in IN_FLIGHT
        for name, value in changes.items():
            setattr(record, name, value)
        self.inflight += int(record.status in IN_FLIGHT) - int(was)
        return record

    def set_item(self, key: str, state: NodeState | None = None, **changes: Any) -> NodeState:
        """Replace (or, with ``state``, create) one map item's state."""
        new = replace(state if state is not None else self.items[key], **changes)
        self.items.changes[key] = new
        return new

    def emit(self, type_: EventType, node: str | None = None, **data: Any) -> None:
        """Append an event for the run's event stream."""
        self.commands.append(Emit(type=type_, at_ms=self.now, node=node, data=data))

    def freeze_nodes(self) -> None:
        """Turn the records this transition changed into immutable ``NodeState``."""
        for record in self._thawed:
            record.__class__ = NodeState  # type: ignore[assignment]
        self._thawed.clear()

    def freeze(self) -> RunState:
        """The new immutable run state (the transition is over)."""
        self.freeze_nodes()
        return replace(
            self.base,
            nodes=self.nodes,
            status=self.status,
            error=self.error,
            error_node=self.error_node,
            end_ms=self.end_ms,
            seq=self.seq,
            epoch=self.epoch,
            deadline_ms=self.deadline_ms,
            ready=tuple(self.ready),
            compensation_queue=tuple(self.comp_queue),
            compensation_failed=self.comp_failed,
            compensation_started=self.comp_started,
            output=self.output,
            items=self.items.frozen(),
            signals=self.signals,
        )

    def token(self, attempt: int) -> str:
        """The lease token of an attempt: unique per run retry (epoch) and attempt."""
        return f"{self.epoch}.{attempt}"

    # -- edges and readiness ---------------------------------------------------
    def edge_state(self, edge: Edge) -> int:
        """Whether ``edge`` was taken, not taken, or is still open."""
        src = self.nodes[edge.source]
        if src.status in DONE_FOR_SUCCESSORS:
            if src.taken is None:
                return TAKEN
            return TAKEN if edge.id in src.taken else NOT_TAKEN
        if src.status in DEAD_FOR_SUCCESSORS:
            # Skipped on request (a retry's skipNodes): it passes its edges on, as if done.
            return TAKEN if src.taken is not None and edge.id in src.taken else NOT_TAKEN
        return OPEN

    def examine(self, node_id: str) -> None:
        """Run, queue or skip a pending forward node whose inputs have settled."""
        state = self.nodes[node_id]
        if (
            state.status != NodeStatus.PENDING
            or node_id in self.ready
            or self.status != RunStatus.RUNNING
        ):
            return
        edges = self.g.in_edges.get(node_id, ())
        node = self.g.nodes[node_id]
        if not edges:
            self.make_ready(node_id)
            return
        taken = open_ = 0
        for edge in edges:
            s = self.edge_state(edge)
            if s == TAKEN:
                taken += 1
            elif s == OPEN:
                open_ += 1
        need = self.kinds[node.type].join_need(node, len(edges))
        if need is not None:
            if taken >= need:
                self.make_ready(node_id)
            elif taken + open_ < need:
                self.skip(node_id)
            return
        if open_:
            return
        if taken:
            self.make_ready(node_id)
        else:
            self.skip(node_id)

    def examine_successors(self, node_id: str) -> None:
        """Re-examine every successor of a node that just settled."""
        for target in self.g.successors(node_id):
            self.examine(target)

    def skip(self, node_id: str) -> None:
        """No path into the node was taken: skip it and, through it, its successors."""
        self.set(node_id, status=NodeStatus.SKIPPED, end_ms=self.now)
        self.emit(EventType.NODE_SKIPPED, node_id)
        self.examine_successors(node_id)

    def merged_input(self, node_id: str) -> dict[str, Any]:
        """Outputs of the node's predecessors along taken edges, merged in edge order
        (an entry node's: the run's parameters when the workflow says ``params_as_input``)."""
        merged: dict[str, Any] = {}
        if self.g.spec.config.params_as_input and not self.g.in_edges.get(node_id):
            merged.update(self.base.params)  # an entry node of a job: its payload
        for edge in self.g.in_edges.get(node_id, ()):
            if self.edge_state(edge) == TAKEN:
                out = self.nodes[edge.source].output
                if out:
                    merged.update(out)
        return merged

    # -- running nodes -----------------------------------------------------------
    def make_ready(self, node_id: str) -> None:
        """Inputs are there: the node's kind acts (a gateway decides, a task is dispatched)."""
        self.kinds[self.g.nodes[node_id].type].ready(self, node_id, self.merged_input(node_id))

    def dispatch(
        self, node_id: str, *, kind: JobKind = "task", data: dict[str, Any] | None = None
    ) -> None:
        """Queue the next attempt of a runnable node."""
        node = self.g.nodes[node_id]
        assert isinstance(node, RunnableNode)
        state = self.nodes[node_id]
        attempt = state.attempts + 1
        token = self.token(attempt)
        payload = dict(state.input or {}) if data is None else data
        priority = self.base.priority if node.priority is None else node.priority
        job = Job(
            run=self.base.run_id,
            node=node_id,
            attempt=attempt,
            token=token,
            handler=node.handler,
            kind=kind,
            workflow=self.base.workflow_id,
            input=payload,
            params=dict(self.base.params),
            timeout_s=self.cfg.timeout_for(node),
            logical_time=self.base.meta.get("scheduledTime"),
            run_as=self.base.meta.get("runAs"),
            memory=node.resources.memory if node.resources else None,
            cpu=node.resources.cpu if node.resources else None,
        )
        self.set(
            node_id,
            status=NodeStatus.QUEUED,
            attempts=attempt,
            token=token,
            input=payload,
            due_ms=None,
            worker=None,
        )
        self.commands.append(Dispatch(job=job, lane=lane_for_priority(priority)))
        self.emit(EventType.NODE_QUEUED, node_id, attempt=attempt, handler=node.handler)

    def fill_slots(self) -> None:
        """Dispatch waiting ready nodes while the run's parallelism allows."""
        while self.ready and self.inflight < self.max_parallel and self.status == RunStatus.RUNNING:
            node_id = self.ready.pop(0)
            if self.nodes[node_id].status == NodeStatus.PENDING:
                self.dispatch(node_id)

    def complete(
        self, node_id: str, output: Mapping[str, Any], taken: tuple[str, ...] | None = None
    ) -> None:
        """A node finished well: record it and move its successors on."""
        self.seq += 1
        self.set(
            node_id,
            status=NodeStatus.COMPLETED,
            output=dict(output),
            end_ms=self.now,
            taken=taken,
            seq=self.seq,
            due_ms=None,
            last_error=None,
        )
        data: dict[str, Any] = {"attempt": self.nodes[node_id].attempts}
        if taken is not None:
            data["taken"] = list(taken)
        self.emit(EventType.NODE_COMPLETED, node_id, **data)
        self.examine_successors(node_id)

    # -- gateways --------------------------------------------------------------------
    def expression_scope(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Names an expression may read: output, params, nodes (id -> status, output)."""
        nodes = {
            nid: {"status": st.status, "output": dict(st.output or {})}
            for nid, st in self.nodes.items()
        }
        return {"output": dict(data), "params": dict(self.base.params), "nodes": nodes}

    def cancel_nodes(self, statuses: frozenset[str], *, forward_only: bool = False) -> None:
        """Mark nodes in ``statuses`` cancelled (their late results will be ignored);
        each gets a ``node_cancelled`` event, so a reader of the stream sees it stop."""
        for node_id, st in self.nodes.items():
            if st.status in statuses and not (
                forward_only and self.g.nodes[node_id].type == "compensation"
            ):
                was = st.status
                self.cancel_child(st, node_id)  # before the change: it reads the status
                self.set(node_id, status=NodeStatus.CANCELLED, end_ms=self.now, due_ms=None)
                self.emit(EventType.NODE_CANCELLED, node_id, was=was)
        for key, item in list(self.items.items()) if self.items else ():
            if item.status in statuses:
                self.set_item(key, status=NodeStatus.CANCELLED, end_ms=self.now, due_ms=None)
                self.cancel_child(item, key)
        self.ready.clear()

    def cancel_items(self, node_id: str) -> None:
        """A map node stopped: its items not yet settled are cancelled (with their child
        runs), and none counts as active any more."""
        progress = self.nodes[node_id].progress
        if not progress:
            return
        for index in range(progress.get("total", 0)):
            key = item_key(node_id, index)
            item = self.items[key]
            if item.status not in _SETTLED_ITEM:
                self.set_item(key, status=NodeStatus.CANCELLED, end_ms=self.now, due_ms=None)
                self.cancel_child(item, key)
        self.set(node_id, progress={**progress, "active": 0})

    def cancel_child(self, state: NodeState, node_id: str) -> None:
        """A sub-workflow node (or map item) stopped: its child run goes too."""
        if state.child is not None and state.status in IN_FLIGHT:
            why = f"its parent run {self.base.run_id} stopped {node_id}"
            self.commands.append(
                PostInbox(InboxMessage("cancel", state.child, self.now, error=why))
            )

    def finish_run(self, status: RunStatus, event: EventType, **data: Any) -> None:
        """End the run with ``status``; a child run tells its parent's node."""
        self.status = status
        self.end_ms = self.now
        self.emit(event, **data)
        self.commands.append(Finished(status=status))
        parent = self.base.meta.get(PARENT)
        if isinstance(parent, Mapping):
            ok = status == RunStatus.COMPLETED
            run_id = self.base.run_id
            message = InboxMessage(
                "succeeded" if ok else "failed",
                str(parent["runId"]),
                self.now,
                node=str(parent["nodeId"]),
                token=str(parent["token"]),
                output={**(self.output or {}), "run_id": run_id} if ok else None,
                error=None if ok else f"sub-workflow run {run_id} {status}: {self.error}",
            )
            self.commands.append(PostInbox(message))

    def check_done(self) -> None:
        """A running run with nothing left to do has completed."""
        if self.status != RunStatus.RUNNING or self.ready:
            return
        for node_id in self.g.forward:
            if self.nodes[node_id].status in ACTIVE:
                return
        out: dict[str, Any] = {}
        for node_id in self.g.forward:
            if (
                not self.g.out_edges.get(node_id)
                and self.nodes[node_id].status == NodeStatus.COMPLETED
            ):
                out.update(self.nodes[node_id].output or {})
        self.output = out
        for node_id, st in self.nodes.items():
            if st.status == NodeStatus.PENDING:  # compensation nodes a completed run never needed
                self.set(node_id, status=NodeStatus.SKIPPED)
                self.emit(EventType.NODE_SKIPPED, node_id, reason=NOT_NEEDED)
        self.finish_run(RunStatus.COMPLETED, EventType.RUN_COMPLETED)
