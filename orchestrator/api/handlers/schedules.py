"""Schedules and their backfills: list, create, read, replace, delete, pause, resume, trigger."""

from __future__ import annotations

from aiohttp import web

from orchestrator.api import trigger_schemas as ts
from orchestrator.api.http import body, json_response, no_content, query, state, user
from orchestrator.errors import BadRequest
from orchestrator.service.backfill import BackfillDriver
from orchestrator.service.schedules import ScheduleService


def _service(request: web.Request) -> ScheduleService:
    return ScheduleService(state(request).service)


def _id(request: web.Request) -> str:
    return request.match_info["scheduleId"]


async def list_schedules(request: web.Request) -> web.StreamResponse:
    """Every schedule (of one workflow), with its next fire and last outcome."""
    q = query(request, ts.ScheduleListQuery)
    return json_response({"schedules": await _service(request).list_all(q.workflowId)})


async def create_schedule(request: web.Request) -> web.StreamResponse:
    """Create a schedule; its first fire is the first fire time after now."""
    spec = body(request, ts.ScheduleSpec)
    view = await _service(request).save(spec, create=True, user=user(request))
    return json_response(view, status=201, headers={"Location": f"/api/v1/schedules/{spec.id}"})


async def get_schedule(request: web.Request) -> web.StreamResponse:
    """One schedule with its next 5 fires and last 20 outcomes."""
    return json_response(await _service(request).view(_id(request)))


async def update_schedule(request: web.Request) -> web.StreamResponse:
    """Replace a schedule (fires are counted again from now)."""
    data = body(request, ts.ScheduleUpdate)
    if data.id is not None and data.id != _id(request):
        raise BadRequest(f"the body's id {data.id!r} is not the path's {_id(request)!r}")
    spec = ts.ScheduleSpec.model_validate({**data.model_dump(), "id": _id(request)})
    return json_response(await _service(request).save(spec, create=False, user=user(request)))


async def delete_schedule(request: web.Request) -> web.StreamResponse:
    """Delete a schedule (its runs stay)."""
    await _service(request).delete(_id(request))
    return no_content()


async def pause_schedule(request: web.Request) -> web.StreamResponse:
    """Hold the schedule's fires, with a note saying why."""
    note = body(request, ts.PauseNote).note
    return json_response(await _service(request).pause(_id(request), note, user(request)))


async def resume_schedule(request: web.Request) -> web.StreamResponse:
    """Fire again from the next fire time (paused fires are not caught up)."""
    note = body(request, ts.PauseNote).note
    return json_response(await _service(request).resume(_id(request), note, user(request)))


async def trigger_schedule(request: web.Request) -> web.StreamResponse:
    """Start a run now, whatever the overlap policy."""
    return json_response(await _service(request).trigger(_id(request), user(request)))


async def start_backfill(request: web.Request) -> web.StreamResponse:
    """One run per fire time in a past range, at most maxParallel at once."""
    b = body(request, ts.BackfillRequest)
    driver = BackfillDriver(state(request).service)
    view = await driver.create(
        _id(request),
        int(b.from_.timestamp() * 1000),
        int(b.to.timestamp() * 1000),
        b.maxParallel,
        user(request),
    )
    return json_response(view, status=202)


async def get_backfill(request: web.Request) -> web.StreamResponse:
    """The schedule's backfill and its progress."""
    return json_response(await BackfillDriver(state(request).service).view(_id(request)))
