"""The client's calls for plain jobs, chains and templates (mixed into ``DagqClient``).

Moving a team's queue calls to dagq is a small diff::

    async with client_for(load_settings()) as client:
        job = await client.enqueue("sendEmail", {"to": "ada@example.com"})
        chain = await client.chain(["fetch", "resize", "upload"], {"url": url})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from orchestrator.client.base import PREFIX, Calls, q
from orchestrator.wire.triggers import (
    Instantiated,
    Job,
    JobList,
    Promoted,
    TemplateDiff,
    TemplateList,
    TemplateRow,
    TemplateVersion,
    TemplateVersionList,
)


def _job(job_id: str) -> str:
    return f"{PREFIX}/jobs/{q(job_id)}"


def _tpl(template_id: str) -> str:
    return f"{PREFIX}/templates/{q(template_id)}"


def _job_body(
    payload: Mapping[str, Any] | None,
    priority: int | None,
    retries: int | None,
    timeout: float | str | None,
    delay: float | str | None,
    run_at: datetime | str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"payload": dict(payload or {})}
    for name, value in (
        ("priority", priority),
        ("retries", retries),
        ("timeout", timeout),
        ("delay", delay),
    ):
        if value is not None:
            body[name] = value
    if run_at is not None:
        body["runAt"] = run_at.isoformat() if isinstance(run_at, datetime) else run_at
    return body


class JobCalls(Calls):
    """Jobs, chains and templates over the API."""

    # -- jobs and chains -----------------------------------------------------------------
    async def enqueue(
        self,
        handler: str,
        payload: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        retries: int | None = None,
        attempt_timeout: float | str | None = None,
        delay: float | str | None = None,
        run_at: datetime | str | None = None,
    ) -> Job:
        """Enqueue one job: ``handler`` gets ``payload`` as its input. ``retries`` and
        ``attempt_timeout`` apply to each handler; durations are seconds or strings such
        as ``"30s"``; ``run_at`` an aware datetime or ISO text (or ``delay``)."""
        body = _job_body(payload, priority, retries, attempt_timeout, delay, run_at)
        return await self._as(Job, "POST", f"{PREFIX}/jobs", body={"handler": handler, **body})

    async def chain(
        self,
        handlers: Sequence[str],
        payload: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        retries: int | None = None,
        attempt_timeout: float | str | None = None,
        delay: float | str | None = None,
        run_at: datetime | str | None = None,
    ) -> Job:
        """Enqueue a chain: the first handler gets ``payload``, each next one the
        previous one's output; the last one's output is the chain's result."""
        body = _job_body(payload, priority, retries, attempt_timeout, delay, run_at)
        return await self._as(Job, "POST", f"{PREFIX}/jobs", body={"chain": list(handlers), **body})

    async def get_job(self, job_id: str) -> Job:
        """A job: status, payload, result, each handler's step."""
        return await self._as(Job, "GET", _job(job_id))

    async def list_jobs(
        self, *, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> JobList:
        """A page of jobs, newest first: ``{jobs, total, hasMore}``."""
        params = {"status": status, "limit": limit, "offset": offset}
        return await self._as(JobList, "GET", f"{PREFIX}/jobs", params=params)

    async def promote_job(
        self, job_id: str, workflow_id: str, *, name: str | None = None
    ) -> dict[str, Any]:
        """The workflow behind a job or chain as a workflow called ``workflow_id``, to save
        (``create_workflow``) and extend; nothing is stored."""
        body: dict[str, Any] = {"workflowId": workflow_id}
        if name is not None:
            body["name"] = name
        return (await self._as(Promoted, "POST", f"{_job(job_id)}/promote", body=body)).workflow

    async def cancel_job(self, job_id: str) -> None:
        """Cancel a job that has not ended; Conflict when it has."""
        await self._call("DELETE", _job(job_id))

    # -- templates -----------------------------------------------------------------------
    async def list_templates(self) -> list[TemplateRow]:
        """Every template's list row (the shipped gallery included)."""
        return (await self._as(TemplateList, "GET", f"{PREFIX}/templates")).templates

    async def get_template(self, template_id: str, version: int | None = None) -> TemplateVersion:
        """One version of a template (the newest by default): ``{version, template, ...}``."""
        path = _tpl(template_id) + (f"/versions/{version}" if version is not None else "")
        return await self._as(TemplateVersion, "GET", path)

    async def create_template(self, template: Mapping[str, Any]) -> TemplateVersion:
        """Store a new template (version 1); Conflict when its id is taken."""
        return await self._as(TemplateVersion, "POST", f"{PREFIX}/templates", body=dict(template))

    async def update_template(
        self,
        template_id: str,
        template: Mapping[str, Any],
        *,
        change_log: str | None = None,
        expected_version: int | None = None,
    ) -> TemplateVersion:
        """Store the next version (``outcome``: updated, or unchanged when it is the same)."""
        params = {"changeLog": change_log, "expectedVersion": expected_version}
        return await self._as(
            TemplateVersion, "PUT", _tpl(template_id), body=dict(template), params=params
        )

    async def delete_template(self, template_id: str) -> None:
        """Delete a template and its versions."""
        await self._call("DELETE", _tpl(template_id))

    async def template_versions(self, template_id: str) -> list[TemplateVersion]:
        """A template's versions, newest first."""
        path = f"{_tpl(template_id)}/versions"
        return (await self._as(TemplateVersionList, "GET", path)).versions

    async def diff_templates(self, template_id: str, old: int, new: int) -> TemplateDiff:
        """What changed between two versions of a template."""
        params = {"from": old, "to": new}
        return await self._as(TemplateDiff, "GET", f"{_tpl(template_id)}/diff", params=params)

    async def use_template(
        self,
        template_id: str,
        workflow_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        version: int | None = None,
        save: bool = True,
    ) -> Instantiated:
        """Make a workflow from a template: stored (with the template's schedules) when
        ``save``, else only judged and returned (``instantiate``)."""
        body: dict[str, Any] = {"workflowId": workflow_id, "values": dict(values or {})}
        if name is not None:
            body["name"] = name
        if version is not None:
            body["version"] = version
        action = "use" if save else "instantiate"
        return await self._as(Instantiated, "POST", f"{_tpl(template_id)}/{action}", body=body)
