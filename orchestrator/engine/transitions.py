"""Pure transitions: ``start(...)`` and ``apply(graph, state, event, config)``.

They (and ``apply_all``: a batch of events in one transition) return
``(new_state, commands)`` and never touch Redis, clocks or randomness; the executor
(:mod:`orchestrator.store.runs`) writes the result atomically, and the designer replays
them to simulate a run (:func:`orchestrator.engine.simulate.simulate`).

Messages that no longer apply (a result for an attempt that was superseded, a
node of a cancelled run, a duplicate delivery) leave the state unchanged and
return no commands: that is what makes at-least-once delivery safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, assert_never

from orchestrator.engine import saga
from orchestrator.engine.commands import Command, Reopened, StartDeadline, StartTimer
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import (
    CancelRequested,
    ChildStarted,
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
from orchestrator.engine.kinds import KINDS, runnable
from orchestrator.engine.kinds.approval import Approval
from orchestrator.engine.kinds.map import Map
from orchestrator.engine.kinds.signal import Signal
from orchestrator.engine.kinds.subworkflow import Subworkflow
from orchestrator.engine.retry import delay_s, should_retry
from orchestrator.engine.state import NodeState, RunState, split_item
from orchestrator.engine.tx import Tx
from orchestrator.errors import BadRequest, Conflict, NotFound
from orchestrator.spec.graph import Graph
from orchestrator.vocab import ACTIVE, IN_FLIGHT, EventType, NodeStatus, RunStatus

Result = tuple[RunState, list[Command]]


def _map_kind() -> Map:
    rules = KINDS["map"]
    assert isinstance(rules, Map)
    return rules


MAP = _map_kind()
"""Map items' messages are routed to the map kind (their keys are not node ids)."""


def start(
    graph: Graph,
    *,
    run_id: str,
    workflow_version: int,
    params: Mapping[str, Any],
    now_ms: int,
    config: EngineConfig,
    priority: int = 5,
    meta: Mapping[str, Any] | None = None,
) -> Result:
    """A new run of ``graph``: its entry nodes are made ready."""
    deadline = now_ms + int(config.max_duration_for(graph.spec) * 1000)
    state = RunState(
        run_id=run_id,
        workflow_id=graph.spec.id,
        workflow_version=workflow_version,
        status=RunStatus.RUNNING,
        start_ms=now_ms,
        nodes={node_id: NodeState() for node_id in graph.order},
        params=dict(params),
        deadline_ms=deadline,
        priority=priority,
        meta=dict(meta or {}),
    )
    tx = Tx(graph, state, config, now_ms, KINDS)
    tx.emit(EventType.RUN_STARTED, workflowId=graph.spec.id, workflowVersion=workflow_version)
    tx.commands.append(StartDeadline(due_ms=deadline))
    for node_id in graph.entries:
        tx.examine(node_id)
    tx.check_done()
    return tx.freeze(), tx.commands


def apply(graph: Graph, state: RunState, event: Event, config: EngineConfig) -> Result:
    """The run after ``event``; unchanged (and no commands) when the event is stale."""
    tx = Tx(graph, state, config, event.at_ms, KINDS)
    _apply(tx, event)
    return _result(tx, state)


def apply_all(
    graph: Graph, state: RunState, events: Sequence[Event], config: EngineConfig
) -> Result:
    """The run after ``events`` in order, in one transition: what applying them one by
    one gives, but every node changed is copied once and the run frozen once.

    A result (success or failure) of an attempt not yet seen starting records that start
    first, at the result's time: a worker's ``started`` and its result may be applied by
    two orchestrators, the result first, and the node would have no ``node_started``.
    An event that raises leaves nothing applied (the caller applies them one by one to
    tell which); unchanged (and no commands) when every event is stale."""
    if not events:
        return state, []
    tx = Tx(graph, state, config, events[0].at_ms, KINDS)
    for event in events:
        tx.now = event.at_ms
        if isinstance(event, NodeSucceeded | NodeFailed):
            st = tx.nodes.get(event.node)
            if st is not None and st.token == event.token and st.status == NodeStatus.QUEUED:
                _started(tx, NodeStarted(event.node, event.token, event.at_ms, None))
        _apply(tx, event)
    return _result(tx, state)


def _apply(tx: Tx, event: Event) -> None:
    match event:
        case ChildStarted():
            _child_started(tx, event)
        case NodeStarted():
            _started(tx, event)
        case NodeSucceeded():
            _succeeded(tx, event)
        case NodeFailed():
            _failed(tx, event)
        case TimerFired():
            _timer(tx, event)
        case DeadlinePassed():
            _deadline(tx)
        case CancelRequested():
            _cancel(tx, event)
        case RetryRequested():
            _retry(tx, event)
        case Decided():
            _decided(tx, event)
        case SignalSent():
            rules = KINDS["signal"]
            assert isinstance(rules, Signal)
            rules.receive(tx, event)
        case _:
            assert_never(event)


def _result(tx: Tx, state: RunState) -> Result:
    """The frozen transition, or ``state`` itself when nothing changed."""
    tx.freeze_nodes()
    if (
        not tx.commands
        and not tx.items.changes
        and tx.nodes == state.nodes
        and tx.status == state.status
    ):
        return state, []
    return tx.freeze(), tx.commands


def _current(tx: Tx, node_id: str, token: str) -> NodeState | None:
    """The node's (or map item's) state if ``token`` is its live attempt, else None
    (a stale message)."""
    st = tx.items.get(node_id) if split_item(node_id) else tx.nodes.get(node_id)
    if st is None or st.token != token or st.status not in IN_FLIGHT:
        return None
    return st


def _child_started(tx: Tx, ev: ChildStarted) -> None:
    st = _current(tx, ev.node, ev.token)
    if st is None or st.status != NodeStatus.QUEUED:
        return
    if split_item(ev.node):
        MAP.item_child_started(tx, ev.node, ev.child)
        return
    kind = KINDS[tx.g.nodes[ev.node].type]
    assert isinstance(kind, Subworkflow)
    kind.child_started(tx, ev.node, ev.child)


def _started(tx: Tx, ev: NodeStarted) -> None:
    st = _current(tx, ev.node, ev.token)
    if st is None or st.status == NodeStatus.RUNNING:
        return
    if split_item(ev.node):
        MAP.item_started(tx, ev.node, ev.at_ms, ev.worker)
        return
    tx.set(ev.node, status=NodeStatus.RUNNING, start_ms=ev.at_ms, worker=ev.worker)
    tx.emit(EventType.NODE_STARTED, ev.node, attempt=st.attempts, worker=ev.worker)


def _succeeded(tx: Tx, ev: NodeSucceeded) -> None:
    if _current(tx, ev.node, ev.token) is None:
        return
    item = split_item(ev.node)
    if item is not None:
        MAP.item_succeeded(tx, *item, ev.output)
        return
    runnable(tx.g.nodes[ev.node].type).succeeded(tx, ev.node, ev.output)


def _failed(tx: Tx, ev: NodeFailed) -> None:
    st = _current(tx, ev.node, ev.token)
    if st is None:
        return
    error = f"timeout: {ev.error}" if ev.timed_out and "time" not in ev.error.lower() else ev.error
    item = split_item(ev.node)
    if item is not None:
        MAP.item_failed(tx, *item, error, timed_out=ev.timed_out, final=ev.final)
        return
    node = tx.g.nodes[ev.node]
    kind = runnable(node.type)
    rule = tx.cfg.rule_for(tx.g.spec, node)
    if not ev.final and kind.retries(tx) and should_retry(rule, st.attempts):
        wait_s = delay_s(rule, st.attempts, seed=f"{tx.base.run_id}:{ev.node}:{tx.epoch}")
        due = ev.at_ms + int(wait_s * 1000)
        tx.set(ev.node, status=NodeStatus.WAITING, last_error=error, due_ms=due, worker=None)
        tx.commands.append(StartTimer(node=ev.node, token=ev.token, due_ms=due))
        tx.emit(
            EventType.NODE_RETRYING,
            ev.node,
            attempt=st.attempts,
            error=error,
            delayMs=due - ev.at_ms,
            timeout=ev.timed_out,
        )
        # A node backing off is not in flight: its slot goes to the next ready node.
        tx.fill_slots()
        saga.maybe_compensate(tx)
        return
    kind.failed(tx, ev.node, error, st.attempts)


def _timer(tx: Tx, ev: TimerFired) -> None:
    item = split_item(ev.node)
    st = tx.items.get(ev.node) if item else tx.nodes.get(ev.node)
    if st is None or st.status != NodeStatus.WAITING or st.token != ev.token:
        return
    if item is not None:
        MAP.item_timer(tx, *item)
        return
    KINDS[tx.g.nodes[ev.node].type].timer(tx, ev.node, st)


def _decided(tx: Tx, ev: Decided) -> None:
    node = tx.g.nodes.get(ev.node)
    if node is None or node.type != "approval":
        run = tx.base.run_id
        raise NotFound(
            f"run {run} has no step {ev.node!r}"
            if node is None
            else f"step {ev.node!r} of run {run} is a {node.type} step, not an approval",
            details={"runId": tx.base.run_id, "nodeId": ev.node},
        )
    rules = KINDS["approval"]
    assert isinstance(rules, Approval)
    rules.decide(tx, ev)


def _deadline(tx: Tx) -> None:
    if tx.status != RunStatus.RUNNING or tx.deadline_ms is None or tx.now < tx.deadline_ms:
        return
    limit_s = (tx.deadline_ms - tx.base.start_ms) / 1000
    tx.cancel_nodes(IN_FLIGHT, forward_only=True)
    saga.fail_run(tx, f"run exceeded its maximum duration of {limit_s:g}s", None)


def _cancel(tx: Tx, ev: CancelRequested) -> None:
    if tx.status not in (RunStatus.PENDING, RunStatus.RUNNING):
        raise Conflict(
            f"run {tx.base.run_id} is {tx.status}; only a pending or running run can be cancelled"
        )
    tx.cancel_nodes(ACTIVE)
    tx.error = ev.reason
    tx.finish_run(RunStatus.CANCELLED, EventType.RUN_CANCELLED, reason=ev.reason)


RETRY_SKIP = "skipped by the retry"
"""The reason of a ``node_skipped`` event for a node a retry was asked to skip."""
_RESET_ON_RETRY = frozenset(NodeStatus) - {NodeStatus.PENDING, NodeStatus.COMPLETED}


def _check_skippable(tx: Tx, skip: tuple[str, ...]) -> None:
    unknown = [n for n in skip if n not in tx.g.nodes]
    if unknown:
        raise NotFound(f"run {tx.base.run_id} has no step {', '.join(map(repr, unknown))} to skip")
    kinds = {n: tx.g.nodes[n].type for n in skip if not KINDS[tx.g.nodes[n].type].skippable}
    if kinds:
        names = ", ".join(f"{n!r} ({kind})" for n, kind in kinds.items())
        raise BadRequest(f"only tasks and delays can be skipped, not {names}")


def _retry(tx: Tx, ev: RetryRequested) -> None:
    if tx.status not in (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.COMPENSATED):
        raise Conflict(
            f"run {tx.base.run_id} is {tx.status}; only a failed, cancelled or compensated run "
            "can be retried"
        )
    reset: set[str]
    downstream: set[str] = set()
    if ev.from_node is not None:
        if ev.from_node not in tx.g.nodes or tx.g.nodes[ev.from_node].type == "compensation":
            raise NotFound(f"run {tx.base.run_id} has no step {ev.from_node!r} to retry from")
        reset = {ev.from_node}
        todo = [ev.from_node]
        while todo:
            for succ in tx.g.successors(todo.pop()):
                if succ not in reset and (
                    not ev.only_node or tx.nodes[succ].status in _RESET_ON_RETRY
                ):
                    reset.add(succ)
                    todo.append(succ)
        downstream = reset - {ev.from_node}
        reset |= {n for n, st in tx.nodes.items() if st.status in _RESET_ON_RETRY}
    else:
        reset = {n for n, st in tx.nodes.items() if st.status in _RESET_ON_RETRY}
    reset |= set(tx.g.compensation_of.values())
    _check_skippable(tx, ev.skip_nodes)
    tx.epoch += 1
    for node_id in tx.g.order:
        if node_id in reset and tx.g.nodes[node_id].type == "map":
            # Items of a map that failed run again, the completed ones do not; a map
            # downstream of ``from_node`` may get another list: all its items run again.
            MAP.reset(tx, node_id, keep=node_id not in downstream)
        elif node_id in reset:
            tx.nodes[node_id] = NodeState()
    if ev.params is not None:
        tx.base = replace(tx.base, params=dict(ev.params))  # what the new attempts read
    skipped = [n for n in ev.skip_nodes if n in reset]  # others will not run again anyway
    for node_id in skipped:
        out = tuple(e.id or "" for e in tx.g.out_edges.get(node_id, ()))
        tx.set(node_id, status=NodeStatus.SKIPPED, end_ms=tx.now, taken=out)
    tx.inflight = 0
    tx.status = RunStatus.RUNNING
    tx.error = tx.error_node = None
    tx.end_ms = None
    tx.output = None
    tx.comp_queue.clear()
    tx.comp_started = tx.comp_failed = False
    tx.ready.clear()
    tx.deadline_ms = tx.now + int(tx.cfg.max_duration_for(tx.g.spec) * 1000)
    tx.commands.append(Reopened())
    tx.commands.append(StartDeadline(due_ms=tx.deadline_ms))
    # The event names every node it reset and the status it left it in, so a reader of
    # the stream knows each node's status without asking for the run.
    changed = {n: tx.nodes[n].status for n in tx.g.order if n in reset}
    tx.emit(EventType.RUN_RETRIED, epoch=tx.epoch, fromNode=ev.from_node, reset=changed)
    for node_id in skipped:
        tx.emit(EventType.NODE_SKIPPED, node_id, reason=RETRY_SKIP)
    for node_id in tx.g.forward:
        tx.examine(node_id)
    tx.check_done()
