"""The client's calls for plain jobs, chains and templates (mixed into ``DagqClient``).

Moving a team's queue calls to dagq is a small diff::

    async with client_for(load_settings()) as client:
        job = await client.enqueue("sendEmail", {"to": "ada@example.com"})
        chain = await client.chain(["fetch", "resize", "upload"], {"url": url})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

PREFIX = "/api/v1"


def _job(job_id: str) -> str:
    return f"{PREFIX}/jobs/{quote(job_id, safe='')}"


def _tpl(template_id: str) -> str:
    return f"{PREFIX}/templates/{quote(template_id, safe='')}"


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


class JobCalls:
    """Jobs, chains and templates over the API; ``_obj``/``_call`` come from ``DagqClient``."""

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        raise NotImplementedError

    async def _obj(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

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
    ) -> dict[str, Any]:
        """Enqueue one job: ``handler`` gets ``payload`` as its input. ``retries`` and
        ``attempt_timeout`` apply to each handler; durations are seconds or strings such
        as ``"30s"``; ``run_at`` an aware datetime or ISO text (or ``delay``)."""
        body = _job_body(payload, priority, retries, attempt_timeout, delay, run_at)
        return await self._obj("POST", f"{PREFIX}/jobs", body={"handler": handler, **body})

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
    ) -> dict[str, Any]:
        """Enqueue a chain: the first handler gets ``payload``, each next one the
        previous one's output; the last one's output is the chain's result."""
        body = _job_body(payload, priority, retries, attempt_timeout, delay, run_at)
        return await self._obj("POST", f"{PREFIX}/jobs", body={"chain": list(handlers), **body})

    async def get_job(self, job_id: str) -> dict[str, Any]:
        """A job: status, payload, result, each handler's step."""
        return await self._obj("GET", _job(job_id))

    async def list_jobs(
        self, *, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> dict[str, Any]:
        """A page of jobs, newest first: ``{jobs, total, hasMore}``."""
        params = {"status": status, "limit": limit, "offset": offset}
        return await self._obj("GET", f"{PREFIX}/jobs", params=params)

    async def cancel_job(self, job_id: str) -> None:
        """Cancel a job that has not ended; Conflict when it has."""
        await self._call("DELETE", _job(job_id))
