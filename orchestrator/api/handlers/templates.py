"""Templates: list, push, read, version, compare, delete, and make workflows from them."""

from __future__ import annotations

from aiohttp import web

from orchestrator.api import template_schemas as ts
from orchestrator.api.http import body, json_response, no_content, query, state, user
from orchestrator.errors import BadRequest, Forbidden, NotFound
from orchestrator.service.templates import TemplateService


def _service(request: web.Request) -> TemplateService:
    return TemplateService(state(request).service)


def _id(request: web.Request) -> str:
    return request.match_info["templateId"]


def _version(request: web.Request) -> int:
    raw = request.match_info["version"]
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise NotFound(f"template '{_id(request)}' has no version {raw[:20]!r}")
    return int(raw)


async def list_templates(request: web.Request) -> web.StreamResponse:
    """Every template (the shipped gallery included), most recently updated first."""
    return json_response({"templates": await _service(request).list_all()})


async def create_template(request: web.Request) -> web.StreamResponse:
    """Store a new template as version 1."""
    spec = body(request, ts.TemplateSpec)
    record, _ = await _service(request).push(spec, user=user(request), create_only=True)
    headers = {"Location": f"/api/v1/templates/{spec.id}"}
    return json_response(record, status=201, headers=headers)


async def update_template(request: web.Request) -> web.StreamResponse:
    """Store the template as its next version (nothing when it did not change)."""
    spec = body(request, ts.TemplateSpec)
    if spec.id != _id(request):
        raise BadRequest(f"the body's id {spec.id!r} is not the path's {_id(request)!r}")
    q = query(request, ts.TemplateWriteQuery)
    service = _service(request)
    await service.template(spec.id)  # NotFound: create it with POST
    record, outcome = await service.push(
        spec, user=user(request), change_log=q.changeLog, expected_version=q.expectedVersion
    )
    return json_response({**record, "outcome": outcome})


async def get_template(request: web.Request) -> web.StreamResponse:
    """The template's current version."""
    return json_response(await _service(request).get(_id(request)))


async def delete_template(request: web.Request) -> web.StreamResponse:
    """Delete a template and its versions (workflows made from it stay)."""
    await _service(request).delete(_id(request))
    return no_content()


async def list_versions(request: web.Request) -> web.StreamResponse:
    """The template's versions, newest first."""
    return json_response({"versions": await _service(request).versions(_id(request))})


async def get_version(request: web.Request) -> web.StreamResponse:
    """One version of the template, as stored when it was made."""
    return json_response(await _service(request).get(_id(request), _version(request)))


async def diff_versions(request: web.Request) -> web.StreamResponse:
    """What changed between two versions."""
    q = query(request, ts.TemplateDiffQuery)
    return json_response(await _service(request).diff(_id(request), q.from_, q.to))


async def _make(request: web.Request, *, save: bool) -> web.StreamResponse:
    b = body(request, ts.TemplateUse)
    service = _service(request)
    if save:
        template = await service.template(_id(request), b.version)
        if "schedules" in template.workflow:
            who = user(request)
            if not state(request).authorizer.allowed(who, "schedule:write"):
                raise Forbidden(
                    f"template '{template.id}' makes schedules too, and {who} may not "
                    "write schedules (schedule:write)"
                )
    answer = await service.use(
        _id(request),
        b.workflowId,
        b.values,
        version=b.version,
        name=b.name,
        user=user(request),
        save=save,
    )
    return json_response(answer, status=201 if save else 200)


async def instantiate(request: web.Request) -> web.StreamResponse:
    """The workflow the template makes with these values, judged but not stored."""
    return await _make(request, save=False)


async def use_template(request: web.Request) -> web.StreamResponse:
    """Make and store a workflow (and the template's schedules) from the template."""
    return await _make(request, save=True)
