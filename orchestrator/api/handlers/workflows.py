"""Workflow definitions: list, create, read, update, delete, validate, versions.

Judging a spec costs CPU in proportion to its size (a 500-node spec, thousands of edges),
so it runs in the state's CPU pool: the event loop keeps answering other requests.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from orchestrator.api import schemas
from orchestrator.api.http import json_response, no_content, query, raw_body, state, user
from orchestrator.api.shapes import spec_shape, version_shape
from orchestrator.errors import Conflict, NotFound
from orchestrator.keys import Keys
from orchestrator.service.children import unknown_workflows
from orchestrator.service.runs import RunService
from orchestrator.service.workflows import check_handlers
from orchestrator.spec.limits import judge, judge_spec, require_valid
from orchestrator.spec.model import WorkflowSpec
from orchestrator.spec.validator import ValidationResult
from orchestrator.store.queue_admin import as_str


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


async def active_runs_of(redis: Redis, keys: Keys, workflow_id: str) -> list[str]:
    """Ids of the workflow's active runs (its run index intersected with each active set)."""
    out: list[str] = []
    for shard in keys.all_shards():
        ids: list[Any] = await redis.zinter([keys.runs_of(shard, workflow_id), keys.active(shard)])
        out += [as_str(i) for i in ids]
    return out


async def delete_workflow(request: web.Request) -> web.StreamResponse:
    """Delete a workflow; 409 while it has active runs, unless ``force`` cancels them."""
    st = state(request)
    workflow_id = _wf_id(request)
    q = query(request, schemas.DeleteQuery)
    if not await st.service.workflows.exists(workflow_id):
        raise NotFound(f"workflow '{workflow_id}' not found", details={"workflowId": workflow_id})
    active = await active_runs_of(st.conn.redis, st.keys, workflow_id)
    if active and not q.force:
        raise Conflict(
            f"workflow '{workflow_id}' has {len(active)} active run(s); cancel them or "
            "delete with ?force=true (which cancels them)",
            details={"workflowId": workflow_id, "activeRuns": active[:100]},
        )
    for run_id in active:
        # A run that ended (or expired) meanwhile has nothing left to cancel.
        with contextlib.suppress(Conflict, NotFound):
            await st.service.cancel(run_id, reason=f"workflow deleted by {user(request)}")
    await st.service.workflows.delete(workflow_id)
    return no_content()


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
