"""Storing a workflow as a local user means it: create it, or add a version when it changed."""

from __future__ import annotations

from orchestrator.errors import NotFound
from orchestrator.security.handler_gate import require
from orchestrator.service.runs import RunService
from orchestrator.spec.model import RunnableNode, WorkflowSpec
from orchestrator.store.records import WorkflowRecord


def _same_spec(a: WorkflowSpec, b: WorkflowSpec) -> bool:
    dump = {"exclude": {"version"}, "mode": "json"}
    return a.model_dump(**dump) == b.model_dump(**dump)  # type: ignore[arg-type]


async def upsert_workflow(
    service: RunService, spec: WorkflowSpec, *, user: str | None = None
) -> WorkflowRecord:
    """Store ``spec``: create it, or add a version when it differs from the current one."""
    try:
        current = await service.workflows.get(spec.id)
    except NotFound:
        return await service.workflows.create(spec, user=user)
    if _same_spec(current.spec, spec):
        return current
    return await service.workflows.update(spec.id, spec, user=user, change_log="pushed again")


async def check_handlers(service: RunService, spec: WorkflowSpec, user: str | None) -> None:
    """``Forbidden`` naming the handler when ``user`` may not use one the spec's nodes run."""
    handlers = {n.handler for n in spec.nodes if isinstance(n, RunnableNode)}
    await require(service.gate, user, handlers, f"save workflow {spec.id!r}")
