"""The client itself: its session, one request, the event stream; the calls are
grouped in mixins (``workflows.py``, ``runs.py``, ``admin.py``, ``approvals.py``,
``triggers.py``, ``jobs.py``, ``users.py``).

Every answer comes back as the API's own response model (:mod:`orchestrator.wire`:
typed where the code reads it, keeping fields a newer server adds; ``as_json()``
gives the JSON the server sent); listings as a :class:`Page`.  An HTTP error is raised
as the matching :class:`DagqError` subclass with the server's code, message and
details; a server that cannot be reached is :class:`Unavailable` ("cannot reach the
dagq API at http://...: connection refused").
"""

from __future__ import annotations

import errno
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from orchestrator.client.admin import AdminCalls
from orchestrator.client.approvals import ApprovalCalls
from orchestrator.client.base import PREFIX, Params, parse, run_path
from orchestrator.client.frames import error_from, frames, loads
from orchestrator.client.jobs import JobCalls
from orchestrator.client.runs import RunCalls, RunStatus
from orchestrator.client.triggers import TriggerCalls
from orchestrator.client.users import UserCalls
from orchestrator.client.workflows import WorkflowCalls
from orchestrator.errors import ConfigError, Unavailable
from orchestrator.wire.base import Page
from orchestrator.wire.runs import RunEvent

__all__ = ["PREFIX", "DagqClient", "Page", "RunStatus"]

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}


class DagqClient(
    WorkflowCalls, RunCalls, AdminCalls, TriggerCalls, JobCalls, UserCalls, ApprovalCalls
):
    """Async client of one dagq API; use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers: dict[str, str] = {"Accept": "application/json"}
        if api_key and api_key != api_key.strip():
            # HTTP drops spaces and tabs around a header value, so the server would see the
            # bare key and accept it: refuse here, where the exact value is still known.
            raise ConfigError(
                "the API key has spaces or other blanks around it; give the key exactly"
            )
        if api_key:
            self._headers["X-API-Key"] = api_key
        elif token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> DagqClient:
        self._ensure_session()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            )
        return self._session

    def _unreachable(self, exc: BaseException) -> Unavailable:
        if isinstance(exc, TimeoutError):
            why = f"no answer within {self.timeout_s:g} s"
        elif isinstance(exc, aiohttp.ClientConnectorError):
            why = _ERRNO_WORDS.get(exc.os_error.errno or 0) or str(exc.os_error.strerror or exc)
        elif isinstance(exc, aiohttp.ServerDisconnectedError):
            why = "the server closed the connection"
        else:
            why = str(exc) or type(exc).__name__
        return Unavailable(f"cannot reach the dagq API at {self.base_url}: {why}")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Params = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One request; the decoded JSON answer (None for 204)."""
        session = self._ensure_session()
        data = orjson.dumps(body) if body is not None else None
        sent = dict(headers or {})
        if data is not None:
            sent["Content-Type"] = "application/json"
        query = _clean(params)
        try:
            async with session.request(
                method, self.base_url + path, data=data, params=query, headers=sent or None
            ) as resp:
                if resp.status == 204:
                    return None
                decoded = loads(await resp.read())
                if resp.status >= 400:
                    raise error_from(resp.status, decoded, resp.headers.get("Retry-After"))
                return decoded
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise self._unreachable(exc) from None

    async def stream_run_events(
        self, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncGenerator[RunEvent, None]:
        """Yield the run's events over one server-sent event stream, after
        ``last_event_id`` (``Last-Event-ID``), until the run's end frame.

        One connection: a stream that drops, or closes without its end frame (a server
        shutting down), raises :class:`Unavailable`.  :func:`orchestrator.client.follow_run`
        reconnects and resumes; use it to follow a run.
        """
        url = f"{self.base_url}{run_path(run_id)}/events"
        # No total timeout: a stream lives as long as the run; the server's keep-alive
        # comments every few seconds keep the read timeout from firing on a quiet run.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s, sock_read=60)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        try:
            async with self._ensure_session().get(url, headers=headers, timeout=timeout) as resp:
                if resp.status != 200:
                    body = await resp.read()
                    raise error_from(resp.status, loads(body), resp.headers.get("Retry-After"))
                async for event, _event_id, data in frames(resp):
                    if event == "end":
                        return
                    yield parse(RunEvent, data, url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable(exc) from None
        raise Unavailable(f"the event stream of {run_id} closed before the run's end")

    async def ready(self) -> bool:
        """True when the API answers and reaches Redis."""
        try:
            await self._call("GET", "/readyz")
        except Unavailable:
            return False
        return True


def _clean(params: Params) -> list[tuple[str, str]] | None:
    """Query pairs without None values; booleans as ``true``/``false``."""
    if params is None:
        return None
    pairs = params.items() if isinstance(params, Mapping) else params
    out = []
    for key, value in pairs:
        if value is None:
            continue
        out.append((key, ("true" if value else "false") if isinstance(value, bool) else str(value)))
    return out
