"""Plain jobs and chains: enqueue, list, read, cancel (runs of hidden workflows)."""

from __future__ import annotations

from aiohttp import web

from orchestrator.api import job_schemas as js
from orchestrator.api.http import body, json_response, no_content, query, state, user
from orchestrator.service.jobs import JobService


def _service(request: web.Request) -> JobService:
    return JobService(state(request).service)


def _id(request: web.Request) -> str:
    return request.match_info["jobId"]


async def enqueue_job(request: web.Request) -> web.StreamResponse:
    """Enqueue a job for one handler, or a chain of handlers, with a payload."""
    b = body(request, js.JobRequest)
    metadata = {"tags": list(b.tags)} if b.tags else None
    view = await _service(request).enqueue(
        b.handlers,
        b.payload,
        priority=b.priority,
        retries=b.retries,
        timeout_s=b.timeout,
        delay_s=b.delay,
        run_at_ms=int(b.runAt.timestamp() * 1000) if b.runAt is not None else None,
        user=user(request),
        metadata=metadata,
    )
    state(request).metrics.runs_started.inc()
    return json_response(view, status=201, headers={"Location": f"/api/v1/jobs/{view['id']}"})


async def list_jobs(request: web.Request) -> web.StreamResponse:
    """Jobs and chains, newest first."""
    q = query(request, js.JobListQuery)
    rows, total = await _service(request).page(status=q.status, limit=q.limit, offset=q.offset)
    return json_response({"jobs": rows, "total": total, "hasMore": q.offset + len(rows) < total})


async def get_job(request: web.Request) -> web.StreamResponse:
    """One job: status, payload, result, each handler's step."""
    return json_response(await _service(request).get(_id(request)))


async def promote_job(request: web.Request) -> web.StreamResponse:
    """The workflow behind a job or chain as an ordinary workflow (not stored)."""
    b = body(request, js.JobPromotion)
    spec = await _service(request).promote(_id(request), b.workflowId, name=b.name)
    return json_response({"workflow": spec.model_dump(mode="json", exclude_none=True)})


async def cancel_job(request: web.Request) -> web.StreamResponse:
    """Cancel a job that has not ended."""
    await _service(request).cancel(_id(request))
    return no_content()
