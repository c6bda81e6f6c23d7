"""Starting the child run a sub-workflow node asks for (an inbox ``child`` message).

The request was written with the parent's state, so it is never lost; an orchestrator
that dies after starting the child and before acknowledging the message reads it again
and finds the child it started (the child's id derives from the parent's run, node and
attempt token).  Children live in their parent's shard: the child's final write posts
its outcome to the parent's inbox in the same step (one slot).  What refuses a child —
its parameters, an unknown workflow, the depth limit, a workflow that reaches itself —
fails the attempt with the reason, as does a handler of the child that the parent's
starter (``runAs``) may not use.
"""

from __future__ import annotations

from typing import Any

from orchestrator.engine.events import ChildStarted, Event, NodeFailed
from orchestrator.engine.state import ANCESTRY, DEPTH, PARENT, split_item
from orchestrator.errors import Conflict, DagqError, NotFound
from orchestrator.keys import Keys
from orchestrator.protocol import InboxMessage
from orchestrator.service.runs import RunService
from orchestrator.spec.loader import SpecIssue
from orchestrator.spec.model import WorkflowSpec
from orchestrator.store.timers import now_ms
from orchestrator.vocab import NodeStatus


def child_run_id(keys: Keys, parent: str, node_id: str, token: str) -> str:
    """The child's id: the same for every delivery of one attempt, in the parent's shard."""
    base = f"{parent}-{node_id}-{token}"
    shard = keys.shard_of(parent)
    for n in range(100_000):
        candidate = f"{base}-{n}" if n else base
        if keys.shard_of(candidate) == shard:
            return candidate
    raise AssertionError("no id in the parent's shard")  # pragma: no cover - 1/shards odds


async def start_child(service: RunService, msg: InboxMessage) -> Event | None:
    """Start the child ``msg`` asks for; the event for the parent (None: the request is
    stale, the node moved on)."""
    node_id, token = msg.node, msg.token
    request: dict[str, Any] = msg.output or {}
    if node_id is None or token is None:
        return None
    parent = await service.get(msg.run)
    st = parent.items.get(node_id) if split_item(node_id) else parent.nodes.get(node_id)
    if st is None or st.token != token or st.status != NodeStatus.QUEUED:
        return None
    at = now_ms()
    workflow = str(request.get("workflow"))
    ancestry = [str(w) for w in request.get("ancestry", [])]
    depth = int(parent.meta.get(DEPTH, 0)) + 1
    limit = service.config.max_subworkflow_depth
    if depth > limit:
        why = (
            f"sub-workflow {workflow} would nest {depth} deep; the limit is {limit} "
            "(resource_limits.max_subworkflow_depth)"
        )
        return NodeFailed(node_id, token, at, why)
    if workflow in ancestry:
        loop = " -> ".join([*ancestry[ancestry.index(workflow) :], workflow])
        return NodeFailed(node_id, token, at, f"workflow {workflow} reaches itself: {loop}")
    child_id = child_run_id(service.keys, msg.run, node_id, token)
    meta = {
        PARENT: {"runId": msg.run, "nodeId": node_id, "token": token},
        ANCESTRY: ancestry,
        DEPTH: depth,
    }
    try:
        await service.start(
            workflow,
            request.get("params") or {},
            version=request.get("version"),
            priority=request.get("priority"),
            metadata=meta,
            run_id=child_id,
            # The parent's starter: its handler permissions are checked at the child's
            # start and recorded, so workers check them at each of the child's nodes.
            user=_text(parent.meta.get("startedBy")),
            run_as=_text(parent.meta.get("runAs")),
        )
    except Conflict:
        pass  # this request was delivered before: its child exists
    except DagqError as exc:
        return NodeFailed(node_id, token, at, f"sub-workflow {workflow} refused: {exc.message}")
    return ChildStarted(node_id, token, at, child_id)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


async def unknown_workflows(service: RunService, spec: WorkflowSpec) -> list[SpecIssue]:
    """Warnings for the sub-workflows ``spec`` starts that are not stored (yet): the
    designer's check when the store is reachable (a run would fail the node)."""
    issues: list[SpecIssue] = []
    for node in spec.nodes:
        target = getattr(node, "workflow", None)
        if not isinstance(target, str) or target == spec.id:
            continue
        try:
            await service.workflows.get(target)
        except NotFound:
            issues.append(
                SpecIssue(
                    "UNKNOWN_WORKFLOW",
                    f"{node.type} '{node.id}' starts workflow '{target}', which is not stored",
                    node_id=node.id,
                    suggestion=f"save workflow '{target}' before running this one",
                )
            )
    return issues
