"""Deciding approvals, sending signals, and the approvals waiting for someone.

A decision or a signal is an engine event applied through the run's compare-and-set
(:meth:`RunService._change`): two approvers at once, a resent request or a restart
never count a decision twice or lose one, and the engine gives the refusals (timed
out, run ended, not an approver, already decided) with their reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.engine import transitions
from orchestrator.engine.events import Decided, SignalSent
from orchestrator.engine.kinds.approval import may_decide
from orchestrator.engine.state import RunState
from orchestrator.errors import Conflict, DagqError
from orchestrator.service.runs import RunService, now_ms
from orchestrator.service.waiting import waiting_view
from orchestrator.spec.graph import Graph
from orchestrator.spec.model import ApprovalNode, SignalNode
from orchestrator.store.approvals_index import approval_member, run_of
from orchestrator.vocab import NodeStatus

_PAGE = 500
_CAS_ATTEMPTS = 50


async def decide(
    service: RunService,
    run_id: str,
    node_id: str,
    *,
    user: str,
    role: str | None,
    approve: bool,
    comment: str = "",
) -> RunState:
    """Record ``user``'s decision on a waiting approval (refusals say why)."""
    event = Decided(node_id, now_ms(), user, role, approve, comment)
    return await service._change(run_id, event)


async def signal(
    service: RunService,
    run_id: str,
    name: str,
    payload: Mapping[str, Any],
    *,
    user: str | None = None,
) -> tuple[RunState, str | None]:
    """Send signal ``name`` to a run: delivered to a waiting node, or kept for one to come.

    Returns the run and the node it completed (None: kept for a node still to come)."""
    event = SignalSent(name, now_ms(), dict(payload), user)
    for _ in range(_CAS_ATTEMPTS):
        state, version = await service.runs.load(run_id)
        graph = await service.specs.graph(state.workflow_id, state.workflow_version)
        new, commands = transitions.apply(graph, state, event, service.config)
        if await service.runs.write(state, new, commands, version) is not None:
            delivered = next(
                (
                    n
                    for n, node in graph.nodes.items()
                    if isinstance(node, SignalNode)
                    and node.signal == name
                    and state.nodes[n].status != NodeStatus.COMPLETED
                    and new.nodes[n].status == NodeStatus.COMPLETED
                ),
                None,
            )
            return new, delivered
    raise Conflict(f"run {run_id} is changing too fast to update; try again")


@dataclass(frozen=True, slots=True)
class WaitingApproval:
    """One approval waiting for a decision."""

    run_id: str
    workflow_id: str
    workflow_name: str
    node_id: str
    node_name: str | None
    view: Mapping[str, Any]
    may_decide: bool
    decided: bool
    """The caller decided already (their decision counts; others are awaited)."""

    def to_api(self) -> dict[str, Any]:
        """camelCase JSON."""
        return {
            "runId": self.run_id,
            "workflowId": self.workflow_id,
            "workflowName": self.workflow_name,
            "nodeId": self.node_id,
            **({"nodeName": self.node_name} if self.node_name else {}),
            **self.view,
            "mayDecide": self.may_decide,
            "decidedByYou": self.decided,
        }


async def waiting_approvals(
    service: RunService, *, user: str, role: str | None, everyone: bool = False
) -> list[WaitingApproval]:
    """Approvals waiting in active runs, oldest request first: those ``user`` may decide
    and has not decided yet (every one when ``everyone``).

    Reads only the runs the approvals index names (:mod:`orchestrator.store.approvals_index`),
    not every active run; each run's own state decides what is shown, so a member that is
    out of date shows nothing."""
    out: list[WaitingApproval] = []
    for shard in service.keys.all_shards():
        members = await _indexed(service, shard)
        run_ids = list(members)
        for start in range(0, len(run_ids), _PAGE):
            page = run_ids[start : start + _PAGE]
            loaded = await service.runs.load_many(page)
            gone = [m for r in page if r not in loaded for m in members[r]]
            if gone:  # runs forgotten or expired: they will never wait again
                await service.redis.zrem(service.keys.approvals(shard), *gone)
            for state, _ in loaded.values():
                out += await _of_run(service, state, user, role, everyone)
    out.sort(key=lambda a: (str(a.view.get("requestedTime")), a.run_id, a.node_id))
    return out


async def _indexed(service: RunService, shard: int) -> dict[str, list[bytes]]:
    """The shard's indexed approvals by run id (the index rebuilt first if it never was)."""
    keys = service.keys
    if not await service.redis.exists(keys.approvals_built(shard)):
        await _rebuild(service, shard)
    members: dict[str, list[bytes]] = {}
    raw: list[Any] = await service.redis.zrange(keys.approvals(shard), 0, -1)
    for member in raw:
        members.setdefault(run_of(member), []).append(member)
    return members


async def _rebuild(service: RunService, shard: int) -> None:
    """Index the waiting approvals of the shard's active runs: those of runs written before
    the index existed (an upgraded deployment).  Idempotent, and safe beside live writes: a
    member added here that is already out of date shows nothing (see above)."""
    keys = service.keys
    scores: dict[str, int] = {}
    start = 0
    while True:
        ids = [
            r.decode() if isinstance(r, bytes) else str(r)
            for r in await service.redis.zrange(keys.active(shard), start, start + _PAGE - 1)
        ]
        if not ids:
            break
        start += _PAGE
        for state, _ in (await service.runs.load_many(ids)).values():
            graph = await _graph(service, state)
            for node_id in _waiting_approvals(graph, state):
                at = state.nodes[node_id].start_ms or state.start_ms
                scores[approval_member(state.run_id, node_id)] = at
    if scores:
        await service.redis.zadd(keys.approvals(shard), scores, nx=True)
    await service.redis.set(keys.approvals_built(shard), "1")


async def _graph(service: RunService, state: RunState) -> Graph | None:
    try:
        return await service.specs.graph(state.workflow_id, state.workflow_version)
    except DagqError:
        return None


def _waiting_approvals(graph: Graph | None, state: RunState) -> list[str]:
    """The run's approval nodes that wait for a decision."""
    if graph is None:
        return []
    return [
        n
        for n, st in state.nodes.items()
        if st.status == NodeStatus.WAITING and isinstance(graph.nodes.get(n), ApprovalNode)
    ]


async def _of_run(
    service: RunService, state: RunState, user: str, role: str | None, everyone: bool
) -> list[WaitingApproval]:
    if not any(st.status == NodeStatus.WAITING for st in state.nodes.values()):
        return []
    graph = await _graph(service, state)
    if graph is None:
        return []
    found = []
    for node_id in _waiting_approvals(graph, state):
        node = graph.nodes[node_id]
        assert isinstance(node, ApprovalNode)
        view = waiting_view(graph, state, node_id)
        assert view is not None
        allowed = may_decide(node.approvers, user, role)
        decided = any(d.get("by") == user for d in state.nodes[node_id].decisions)
        if everyone or (allowed and not decided):
            found.append(
                WaitingApproval(
                    state.run_id,
                    state.workflow_id,
                    graph.spec.name,
                    node_id,
                    node.name,
                    view,
                    allowed,
                    decided,
                )
            )
    return found
