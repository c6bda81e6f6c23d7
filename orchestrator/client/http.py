"""The HTTP calls of :class:`DagqClient`: one method per operation of the API.

Entities come back as the API's JSON (plain dicts, camelCase); listings as a
:class:`Page`.  An HTTP error is raised as the matching :class:`DagqError` subclass
with the server's code, message and details; a server that cannot be reached is
:class:`Unavailable` ("cannot reach the dagq API at http://...: connection refused").
"""

from __future__ import annotations

import errno
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from orchestrator.client.approvals import ApprovalCalls
from orchestrator.client_jobs import JobCalls
from orchestrator.client_triggers import TriggerCalls
from orchestrator.client_users import UserCalls
from orchestrator.client_wire import error_from, frames, loads
from orchestrator.errors import (
    ConfigError,
    DagqError,
    Unavailable,
)
from orchestrator.vocab import TERMINAL_RUN

PREFIX = "/api/v1"
_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing."""

    items: list[dict[str, Any]]
    total: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class RunStatus:
    """The short answer to "how is this run doing?"."""

    run_id: str
    status: str
    nodes: dict[str, str] = field(default_factory=dict)
    """Node id -> status."""
    error: str | None = None

    @property
    def is_complete(self) -> bool:
        """True once the run has ended (completed, failed, compensated or cancelled)."""
        return self.status in TERMINAL_RUN


class DagqClient(TriggerCalls, JobCalls, UserCalls, ApprovalCalls):
    """Async client of one dagq API; use as ``async with`` (schedules and hooks:
    :class:`~orchestrator.client_triggers.TriggerCalls`; jobs, chains and templates:
    :class:`~orchestrator.client_jobs.JobCalls`; approvals and signals:
    :class:`~orchestrator.client.approvals.ApprovalCalls`)."""

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
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
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

    async def _obj(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """:meth:`_call` for answers that are JSON objects."""
        data = await self._call(method, path, **kwargs)
        if not isinstance(data, dict):
            raise DagqError(f"unexpected answer from {path}: {str(data)[:100]}")
        return data

    # -- workflows -----------------------------------------------------------------------
    async def create_workflow(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new workflow (version 1); SpecInvalid lists every problem."""
        return await self._obj("POST", f"{PREFIX}/workflows", body=spec)

    async def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        """The workflow's current version and record fields."""
        return await self._obj("GET", _wf(workflow_id))

    async def update_workflow(
        self,
        workflow_id: str,
        spec: Mapping[str, Any],
        *,
        change_log: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Store ``spec`` as the next version; Conflict if ``expected_version`` is stale."""
        params = {"changeLog": change_log, "expectedVersion": expected_version}
        return await self._obj("PUT", _wf(workflow_id), body=spec, params=params)

    async def delete_workflow(self, workflow_id: str, *, force: bool = False) -> None:
        """Delete a workflow; Conflict while it has active runs unless ``force``."""
        await self._call("DELETE", _wf(workflow_id), params={"force": "true" if force else None})

    async def list_workflows(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        tags: Iterable[str] = (),
        limit: int = 20,
        offset: int = 0,
    ) -> Page:
        """A page of workflow summaries, most recently updated first."""
        params: list[tuple[str, Any]] = [("name", name), ("status", status)]
        params += [("tag", t) for t in tags] + [("limit", limit), ("offset", offset)]
        data = await self._call("GET", f"{PREFIX}/workflows", params=params)
        return Page(data["workflows"], data["total"], data["hasMore"])

    # -- versions ------------------------------------------------------------------------
    async def create_version(
        self, workflow_id: str, spec: Mapping[str, Any], *, change_log: str | None = None
    ) -> dict[str, Any]:
        """Store ``spec`` as a new version and return that version."""
        return await self._obj(
            "POST", f"{_wf(workflow_id)}/versions", body=spec, params={"changeLog": change_log}
        )

    async def get_version(self, workflow_id: str, version: int) -> dict[str, Any]:
        """One stored version."""
        return await self._obj("GET", f"{_wf(workflow_id)}/versions/{version}")

    async def list_versions(self, workflow_id: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """The newest versions, newest first."""
        data = await self._call("GET", f"{_wf(workflow_id)}/versions", params={"limit": limit})
        versions: list[dict[str, Any]] = data["versions"]
        return versions

    # -- validation ----------------------------------------------------------------------
    async def validate_workflow(
        self, workflow_id: str, spec: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Validate the stored workflow (or ``spec`` for it): ``{valid, errors, warnings}``."""
        return await self._obj("POST", f"{_wf(workflow_id)}/validate", body=spec)

    async def validate_spec(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Validate an unsaved spec: ``{valid, errors, warnings}``."""
        return await self._obj("POST", f"{PREFIX}/validate", body=spec)

    # -- runs ----------------------------------------------------------------------------
    async def start_run(
        self,
        workflow_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Start a run; ParameterError for bad parameters, RateLimited/LimitExceeded at limits.

        With ``idempotency_key`` a repeated start returns the first run (Conflict when the
        parameters differ)."""
        body: dict[str, Any] = {"parameters": dict(params or {})}
        if priority is not None:
            body["priority"] = priority
        if tags:
            body["tags"] = list(tags)
        if metadata:
            body["metadata"] = dict(metadata)
        if version is not None:
            body["version"] = version
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._obj("POST", f"{_wf(workflow_id)}/runs", body=body, headers=headers)

    async def get_run(self, run_id: str) -> dict[str, Any]:
        """The run with every node."""
        return await self._obj("GET", _run(run_id))

    async def run_logs(
        self,
        run_id: str,
        node_id: str | None = None,
        *,
        since: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """What the run's handlers (or one node's) logged and printed, one entry per
        attempt: ``{attempts: [...], lastId}`` (pass ``lastId`` back as ``since``)."""
        path = _run(run_id) + (f"/nodes/{_q(node_id)}/logs" if node_id else "/logs")
        return await self._obj("GET", path, params={"since": since, "limit": str(limit)})

    async def map_items(
        self,
        run_id: str,
        node_id: str,
        *,
        status: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of a map node's items: ``{progress, total, items: [{index, status,
        attempts, item, output | error}]}``, ``status`` keeping those in it."""
        params = {"status": status, "offset": str(offset), "limit": str(limit)}
        return await self._obj("GET", f"{_run(run_id)}/nodes/{_q(node_id)}/items", params=params)

    async def list_runs(
        self,
        workflow_id: str | None = None,
        *,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
        kind: str | None = None,
    ) -> Page:
        """Runs newest first: one workflow's, or all (``kind="job"``: plain jobs and chains)."""
        params = {"status": status, "limit": limit, "offset": offset, "kind": kind}
        path = f"{_wf(workflow_id)}/runs" if workflow_id else f"{PREFIX}/runs"
        data = await self._call("GET", path, params=params)
        return Page(data["runs"], data["total"], data["hasMore"])

    async def cancel_run(self, run_id: str) -> None:
        """Cancel a pending or running run; Conflict when it has ended."""
        await self._call("DELETE", _run(run_id))

    async def retry_run(
        self,
        run_id: str,
        *,
        from_node: str | None = None,
        only_node: bool = False,
        skip_nodes: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Run a failed or cancelled run again, from its failure or from ``from_node``;
        ``skip_nodes`` are not run again (their successors go on)."""
        body: dict[str, Any] = {"onlyNode": only_node}
        if from_node is not None:
            body["fromNode"] = from_node
        if skip_nodes:
            body["skipNodes"] = list(skip_nodes)
        return await self._obj("POST", f"{_run(run_id)}/retry", body=body)

    async def get_run_status(self, run_id: str) -> RunStatus:
        """The run's status and each node's."""
        view = await self.get_run(run_id)
        nodes = {nid: n["status"] for nid, n in view.get("nodes", {}).items()}
        return RunStatus(view["runId"], view["status"], nodes, view.get("error"))

    async def get_node_status(self, run_id: str, node_id: str) -> dict[str, Any]:
        """One node of a run."""
        return await self._obj("GET", f"{_run(run_id)}/nodes/{_q(node_id)}")

    async def list_nodes(self, run_id: str) -> list[dict[str, Any]]:
        """Every node of a run."""
        nodes: list[dict[str, Any]] = (await self._call("GET", f"{_run(run_id)}/nodes"))["nodes"]
        return nodes

    async def retry_node(self, run_id: str, node_id: str) -> dict[str, Any]:
        """Rerun one node of a failed run (the run continues from it)."""
        return await self._obj("POST", f"{_run(run_id)}/nodes/{_q(node_id)}/retry")

    async def run_events(
        self, run_id: str, *, since: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Events after ``since`` (an event id or an ISO time), oldest first."""
        data = await self._call(
            "GET", f"{_run(run_id)}/events", params={"since": since, "limit": limit}
        )
        events: list[dict[str, Any]] = data["events"]
        return events

    async def stream_run_events(
        self, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yield the run's events over one server-sent event stream, after
        ``last_event_id`` (``Last-Event-ID``), until the run's end frame.

        One connection: a stream that drops, or closes without its end frame (a server
        shutting down), raises :class:`Unavailable`.  :func:`orchestrator.client.follow_run`
        reconnects and resumes; use it to follow a run.
        """
        url = f"{self.base_url}{_run(run_id)}/events"
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
                    yield data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable(exc) from None
        raise Unavailable(f"the event stream of {run_id} closed before the run's end")

    # -- administration ------------------------------------------------------------------
    # -- insight ----------------------------------------------------------------------------
    async def replay_run(
        self, run_id: str, *, at_s: float | None = None, event: int | None = None
    ) -> dict[str, Any]:
        """Node statuses at ``at_s`` seconds after the start or after ``event`` events."""
        return await self._obj("GET", _run(run_id) + "/replay", params={"at": at_s, "event": event})

    async def replay_steps(self, run_id: str) -> dict[str, Any]:
        """The whole replay of a run, one step per recorded event."""
        return await self._obj("GET", _run(run_id) + "/replay/steps")

    async def run_gantt(self, run_id: str) -> dict[str, Any]:
        """Node attempts on a time axis and the critical path."""
        return await self._obj("GET", _run(run_id) + "/gantt")

    async def diff_runs(self, run_a: str, run_b: str) -> dict[str, Any]:
        """Run ``run_a`` compared with ``run_b``."""
        return await self._obj("GET", _run(run_a) + "/diff", params={"other": run_b})

    async def workflow_stats(self, workflow_id: str, *, last: int = 20) -> dict[str, Any]:
        """p50/p95 duration per node over the workflow's last finished runs."""
        return await self._obj("GET", _wf(workflow_id) + "/stats", params={"last": last})

    async def whoami(self) -> dict[str, Any]:
        """``{user, role, permissions, auth}`` of this client's identity."""
        return await self._obj("GET", f"{PREFIX}/whoami")

    async def check_permission(
        self, permission: str, action: str, resource: str = "*"
    ) -> dict[str, Any]:
        """``{allowed, permission, reason}`` from the server; it audits a denial."""
        body = {"permission": permission, "resource": resource, "action": action}
        return await self._obj("POST", f"{PREFIX}/auth/check", body=body)

    async def handlers(self) -> list[dict[str, Any]]:
        """Handlers live workers offer: ``[{name, workers}]``."""
        rows: list[dict[str, Any]] = (await self._call("GET", f"{PREFIX}/handlers"))["handlers"]
        return rows

    async def queues(self) -> dict[str, Any]:
        """Queue depths, dead-letter count and live workers."""
        return await self._obj("GET", f"{PREFIX}/queues")

    async def dead_letters(self, *, limit: int = 100, shard: int | None = None) -> list[Any]:
        """The oldest dead-lettered jobs."""
        data = await self._call(
            "GET", f"{PREFIX}/queues/dead-letters", params={"limit": limit, "shard": shard}
        )
        letters: list[Any] = data["deadLetters"]
        return letters

    async def requeue_dead(self, ids: Iterable[str], *, shard: int | None = None) -> int:
        """Put dead letters back on their queues; how many moved."""
        body: dict[str, Any] = {"ids": list(ids)}
        if shard is not None:
            body["shard"] = shard
        data = await self._call("POST", f"{PREFIX}/queues/dead-letters/requeue", body=body)
        return int(data["requeued"])

    async def purge_dead(self, ids: Iterable[str], *, shard: int | None = None) -> int:
        """Delete dead letters (their attempts fail); how many were purged."""
        body: dict[str, Any] = {"ids": list(ids)}
        if shard is not None:
            body["shard"] = shard
        data = await self._call("POST", f"{PREFIX}/queues/dead-letters/purge", body=body)
        return int(data["purged"])

    async def audit(
        self,
        *,
        limit: int = 100,
        user: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first (admins)."""
        params = {"limit": limit, "user": user, "outcome": outcome, "since": since}
        params["before"] = before
        entries: list[dict[str, Any]] = (await self._call("GET", f"{PREFIX}/audit", params=params))[
            "entries"
        ]
        return entries

    async def policy_status(self) -> dict[str, Any]:
        """The policy in force and the latest reload error (admins)."""
        return await self._obj("GET", f"{PREFIX}/system/policy")

    async def users(self) -> list[dict[str, Any]]:
        """Every user and its role (admins)."""
        rows: list[dict[str, Any]] = (await self._call("GET", f"{PREFIX}/system/users"))["users"]
        return rows

    async def ready(self) -> bool:
        """True when the API answers and reaches Redis."""
        try:
            await self._call("GET", "/readyz")
        except Unavailable:
            return False
        return True


def _q(value: str) -> str:
    return quote(value, safe="")


def _wf(workflow_id: str) -> str:
    return f"{PREFIX}/workflows/{_q(workflow_id)}"


def _run(run_id: str) -> str:
    return f"{PREFIX}/runs/{_q(run_id)}"


def _clean(
    params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None,
) -> list[tuple[str, str]] | None:
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
