"""Workflow definitions: list, create, read, update, delete, validate, versions.

Judging a spec costs CPU in proportion to its size (a 500-node spec, thousands of edges),
so it runs in the state's CPU pool: the event loop keeps answering other requests.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web

from orchestrator.api import schemas
from orchestrator.api.http import (
    QUERY,
    REQUEST_ID,
    ROLE,
    json_response,
    no_content,
    query,
    raw_body,
    state,
    user,
)
from orchestrator.api.shapes import spec_shape, version_shape
from orchestrator.errors import Forbidden, NotFound, Unavailable
from orchestrator.service.children import unknown_workflows
from orchestrator.service.runs import RunService
from orchestrator.service.workflow_removal import dependants_of, remove_workflow
from orchestrator.service.workflows import check_handlers
from orchestrator.spec.limits import judge, judge_spec, require_valid
from orchestrator.spec.model import WorkflowSpec
from orchestrator.spec.validator import ValidationResult
from orchestrator.vocab import AuditOutcome


def _wf_id(request: web.Request) -> str:
    return request.match_info["workflowId"]


async def list_workflows(request: web.Request) -> web.StreamResponse:
    """A page of workflow summaries, most recently updated first."""
    q = query(request, schemas.WorkflowListQuery)
    rows, total = await state(request).service.workflows.list(
        name=q.name, tags=q.tag or None, status=q.status, limit=q.limit, offset=q.offset
    )
    return json_response(
        {
            "workflows": [r.to_api() for r in rows],
            "total": total,
            "hasMore": q.offset + len(rows) < total,
        }
    )


async def create_workflow(request: web.Request) -> web.StreamResponse:
    """Store a new workflow as version 1 (422 with every problem when invalid)."""
    st = state(request)
    spec = await st.cpu.run(require_valid, raw_body(request), st.settings)
    await check_handlers(st.service, spec, user(request))
    record = await st.service.workflows.create(spec, user=user(request))
    return json_response(
        spec_shape(record.to_api()),
        status=201,
        headers={"Location": f"{request.path}/{record.id}"},
    )


async def get_workflow(request: web.Request) -> web.StreamResponse:
    """The workflow's current version and record fields."""
    record = await state(request).service.workflows.get(_wf_id(request))
    return json_response(spec_shape(record.to_api()))


async def update_workflow(request: web.Request) -> web.StreamResponse:
    """Store the body as the next version; ``expectedVersion`` guards lost updates."""
    st = state(request)
    q = query(request, schemas.SpecWriteQuery)
    spec = await st.cpu.run(
        require_valid, _with_id(raw_body(request), _wf_id(request)), st.settings
    )
    await check_handlers(st.service, spec, user(request))
    record = await st.service.workflows.update(
        _wf_id(request),
        spec,
        user=user(request),
        change_log=q.changeLog,
        expected_version=q.expectedVersion,
    )
    return json_response(spec_shape(record.to_api()))


async def delete_workflow(request: web.Request) -> web.StreamResponse:
    """Delete a workflow; 409 listing its active runs, schedules and webhooks, unless
    ``force`` cancels the runs and removes the schedules and webhooks with it."""
    st = state(request)
    workflow_id = _wf_id(request)
    q = query(request, schemas.DeleteQuery)
    if q.force:
        found = await dependants_of(st.service, workflow_id)
        _may_remove(request, "schedule:write", found.schedules, "schedules")
        _may_remove(request, "hook:write", found.hooks, "webhooks")

    async def removed(kind: str, item_id: str) -> None:
        await _audit_removal(request, kind, item_id, workflow_id)

    await remove_workflow(
        st.service, workflow_id, force=q.force, user=user(request), removed=removed
    )
    return no_content()


def delete_detail(request: web.Request) -> str | None:
    """The audit entry's detail of a forced delete (what it may take with it)."""
    q = request.get(QUERY)
    if isinstance(q, schemas.DeleteQuery) and q.force:
        return "force: cancels its active runs, removes its schedules and webhooks"
    return None


def _may_remove(request: web.Request, permission: str, ids: list[str], what: str) -> None:
    st = state(request)
    if not ids or not st.settings.workflow.security.rbac_enabled:
        return
    who = user(request)
    if not st.authorizer.allowed(who, permission):
        raise Forbidden(
            f"workflow '{_wf_id(request)}' has {what} ({', '.join(ids[:5])}), and {who} may "
            f"not remove them ({permission})",
            details={"permission": permission, what: ids[:100]},
        )


async def _audit_removal(request: web.Request, kind: str, item_id: str, workflow_id: str) -> None:
    """One entry per schedule or webhook a forced delete removed, under its request id."""
    st = state(request)
    if not st.settings.workflow.security.audit_logging:
        return
    with contextlib.suppress(Unavailable):  # the sink logs its own trouble
        await st.audit.record(
            user=user(request),
            role=request.get(ROLE) or None,
            action="deleteSchedule" if kind == "schedule" else "deleteHook",
            resource=f"{kind} {item_id}",
            outcome=AuditOutcome.ALLOWED,
            request_id=request[REQUEST_ID],
            status=204,
            detail=f"removed with workflow {workflow_id}",
        )


async def validate_workflow(request: web.Request) -> web.StreamResponse:
    """Validate the body if one is given, else the stored current version."""
    st = state(request)
    raw = raw_body(request)
    if raw is not None:
        result, spec = await st.cpu.run(judge, _with_id(raw, _wf_id(request)), st.settings)
    else:
        record = await st.service.workflows.get(_wf_id(request))
        result, spec = await st.cpu.run(judge_spec, record.spec, st.settings)
    return json_response((await _with_store_checks(st.service, result, spec)).to_dict())


async def validate_spec(request: web.Request) -> web.StreamResponse:
    """Validate an unsaved spec (the designer's live check)."""
    st = state(request)
    result, spec = await st.cpu.run(judge, raw_body(request), st.settings)
    return json_response((await _with_store_checks(st.service, result, spec)).to_dict())


async def _with_store_checks(
    service: RunService, result: ValidationResult, spec: WorkflowSpec | None
) -> ValidationResult:
    """``result`` plus what only the store knows: sub-workflows that are not stored."""
    if spec is None:
        return result
    missing = await unknown_workflows(service, spec)
    return ValidationResult(result.errors, result.warnings + tuple(missing)) if missing else result


async def list_versions(request: web.Request) -> web.StreamResponse:
    """The newest versions, newest first."""
    st = state(request)
    q = query(request, schemas.VersionListQuery)
    versions = await st.service.workflows.list_versions(_wf_id(request), limit=q.limit)
    total = versions[0].version if versions else 0
    return json_response(
        {"versions": [version_shape(v.to_api()) for v in versions], "total": total}
    )


async def create_version(request: web.Request) -> web.StreamResponse:
    """Store the body as a new version and return that version."""
    st = state(request)
    q = query(request, schemas.SpecWriteQuery)
    spec = await st.cpu.run(
        require_valid, _with_id(raw_body(request), _wf_id(request)), st.settings
    )
    await check_handlers(st.service, spec, user(request))
    version = await st.service.workflows.create_version(
        _wf_id(request),
        spec,
        user=user(request),
        change_log=q.changeLog,
        expected_version=q.expectedVersion,
    )
    return json_response(version_shape(version.to_api()), status=201)


async def get_version(request: web.Request) -> web.StreamResponse:
    """One stored version."""
    raw = request.match_info["version"]
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise NotFound(f"workflow '{_wf_id(request)}' has no version {raw!r}")
    version = await state(request).service.workflows.get_version(_wf_id(request), int(raw))
    return json_response(version_shape(version.to_api()))


def _with_id(raw: Any, workflow_id: str) -> Any:
    """A spec body for an existing workflow may leave its id out."""
    if isinstance(raw, dict) and not raw.get("id"):
        return {**raw, "id": workflow_id}
    return raw
