"""Runs: start, list, read, cancel, retry, node status, events."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web

from orchestrator.api import schemas
from orchestrator.api.http import body, json_response, no_content, query, state, user
from orchestrator.api.shapes import node_shape, run_shape, summaries_shape
from orchestrator.api.sse import event_view, stream_events, wants_stream
from orchestrator.errors import BadRequest, DagqError, NotFound
from orchestrator.service.idempotent import start_once
from orchestrator.service.jobs import JobService
from orchestrator.service.runs import RunService, RunSummary

_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
_MAX_SEQ = "18446744073709551615"


def _run_id(request: web.Request) -> str:
    return request.match_info["runId"]


def after_id(since: str | None) -> str | None:
    """The exclusive stream id to read after: ``since`` as an id, or an ISO time (inclusive)."""
    if since is None or since == "":
        return None
    if _STREAM_ID.fullmatch(since):
        return since
    try:
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"since must be an event id (e.g. 1718000000000-0) or an ISO 8601 time, got {since!r}"
        ) from None
    if moment.tzinfo is None:
        raise BadRequest(f"since {since!r} needs a time zone (e.g. a trailing Z)")
    ms = int(moment.timestamp() * 1000)
    if ms <= 0:
        return None
    # Every id of the millisecond before ``ms`` is older: events at ``ms`` are included.
    return f"{ms - 1}-{_MAX_SEQ}"


async def start_run(request: web.Request) -> web.StreamResponse:
    """Start a run of the workflow's current (or given) version."""
    st = state(request)
    p = body(request, schemas.RunParameters)
    metadata = dict(p.metadata)
    if p.tags:
        metadata["tags"] = list(p.tags)
    key = request.headers.get("Idempotency-Key")
    workflow_id = request.match_info["workflowId"]
    created = True
    if key is not None:
        started = await start_once(
            st.service,
            workflow_id,
            p.parameters,
            key=key,
            version=p.version,
            priority=p.priority,
            user=user(request),
            metadata=metadata,
            run_as=user(request),
        )
        run, created = started.state, started.created
    else:
        run = await st.service.start(
            workflow_id,
            p.parameters,
            version=p.version,
            priority=p.priority,
            user=user(request),
            metadata=metadata,
            run_as=user(request),
        )
    headers = {"Location": f"/api/v1/runs/{run.run_id}"}
    if created:
        st.metrics.runs_started.inc()
    else:
        headers["Idempotent-Replayed"] = "true"
    view = run_shape(await st.service.describe(run, new=created))
    return json_response(view, status=201 if created else 200, headers=headers)


async def _summaries(service: RunService, rows: list[RunSummary]) -> list[dict[str, Any]]:
    """The page's rows with their workflow's name and node counts (one round trip)."""
    states = await service.runs.load_many(r.id for r in rows)
    names: dict[tuple[str, int], str | None] = {}
    for key in {(r.workflow_id, r.workflow_version) for r in rows}:
        try:
            names[key] = (await service.specs.graph(*key)).spec.name
        except DagqError:  # the workflow was deleted since
            names[key] = None
    return summaries_shape(
        [r.to_api() for r in rows], {rid: st for rid, (st, _) in states.items()}, names
    )


async def _run_page(request: web.Request, workflow_id: str | None, q: schemas.RunListQuery) -> Any:
    service = state(request).service
    rows, total = await service.list_runs(
        workflow_id=workflow_id,
        status=q.status,
        limit=q.limit,
        offset=q.offset,
        since_ms=int(q.startTime.timestamp() * 1000) if q.startTime else None,
    )
    return json_response(
        {
            "runs": await _summaries(service, rows),
            "total": total,
            "hasMore": q.offset + len(rows) < total,
        }
    )


async def list_workflow_runs(request: web.Request) -> web.StreamResponse:
    """Runs of one workflow, newest first."""
    workflow_id = request.match_info["workflowId"]
    if not await state(request).service.workflows.exists(workflow_id):
        raise NotFound(f"workflow '{workflow_id}' not found", details={"workflowId": workflow_id})
    q = query(request, schemas.RunListQuery)
    response: web.StreamResponse = await _run_page(request, workflow_id, q)
    return response


async def list_runs(request: web.Request) -> web.StreamResponse:
    """Every run (or one workflow's, even deleted), newest first."""
    q = query(request, schemas.AllRunsQuery)
    if q.kind == "job":
        service = state(request).service
        rows, total = await JobService(service).summaries(
            status=q.status, limit=q.limit, offset=q.offset
        )
        return json_response(
            {
                "runs": await _summaries(service, rows),
                "total": total,
                "hasMore": q.offset + len(rows) < total,
            }
        )
    response: web.StreamResponse = await _run_page(request, q.workflowId, q)
    return response


async def get_run(request: web.Request) -> web.StreamResponse:
    """The run with every node."""
    return json_response(run_shape(await state(request).service.view(_run_id(request))))


async def cancel_run(request: web.Request) -> web.StreamResponse:
    """Cancel a pending or running run (409 when it has ended)."""
    await state(request).service.cancel(_run_id(request), reason=f"cancelled by {user(request)}")
    return no_content()


async def retry_run(request: web.Request) -> web.StreamResponse:
    """Run a failed or cancelled run again from its failure, or from ``fromNode``."""
    st = state(request)
    opts = body(request, schemas.RetryOptions)
    if opts.onlyNode and not opts.fromNode:
        raise BadRequest("onlyNode needs fromNode")
    run = await st.service.retry(
        _run_id(request),
        from_node=opts.fromNode,
        only_node=opts.onlyNode,
        skip_nodes=tuple(opts.skipNodes),
        params=opts.parameters,
        user=user(request),
    )
    return json_response(run_shape(await st.service.describe(run)), status=201)


async def list_nodes(request: web.Request) -> web.StreamResponse:
    """Every node of the run."""
    view = run_shape(await state(request).service.view(_run_id(request)))
    return json_response({"nodes": list(view["nodes"].values())})


def _node(view: dict[str, Any], node_id: str) -> dict[str, Any]:
    node = view["nodes"].get(node_id)
    if node is None:
        raise NotFound(
            f"run {view['runId']} has no node '{node_id}'",
            details={"runId": view["runId"], "nodeId": node_id},
        )
    return node_shape(node, node_id)


async def get_node(request: web.Request) -> web.StreamResponse:
    """One node of the run."""
    view = await state(request).service.view(_run_id(request))
    return json_response(_node(view, request.match_info["nodeId"]))


async def retry_node(request: web.Request) -> web.StreamResponse:
    """Rerun one node of a failed run, then let the run continue from it."""
    st = state(request)
    node_id = request.match_info["nodeId"]
    current = await st.service.view(_run_id(request))
    _node(current, node_id)
    run = await st.service.retry(
        _run_id(request), from_node=node_id, only_node=True, user=user(request)
    )
    view = await st.service.describe(run)
    return json_response(_node(view, node_id))


async def run_events(request: web.Request) -> web.StreamResponse:
    """The run's events: JSON after ``since``, or a live SSE stream resumable by id."""
    st = state(request)
    run_id = _run_id(request)
    q = query(request, schemas.EventsQuery)
    since = request.headers.get("Last-Event-ID") or q.since
    after = after_id(since)
    if wants_stream(request):
        return await stream_events(request, st, run_id, after)
    events = await st.service.events(run_id, after=after, count=q.limit)
    return json_response(
        {
            "events": [event_view(run_id, e) for e in events],
            "lastEventId": events[-1].id if events else (after if after == since else None),
        }
    )
