"""Handler logs of a run: what each attempt logged and printed (``GET .../logs``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.http import json_response, query, state
from orchestrator.api.schemas import StreamId
from orchestrator.service.views import iso
from orchestrator.store.attempt_logs import AttemptLogEntry


class LogsQuery(BaseModel):
    """``since``: the ``lastId`` of an earlier answer (attempts logged after it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    since: StreamId | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class LogLine(_Out):
    """One line: a logging level name (INFO, WARNING...), or stdout/stderr for print."""

    at: str
    level: str
    text: str


class AttemptLogView(_Out):
    """What one attempt of a node logged (the last lines, when it said more)."""

    id: str
    nodeId: str
    attempt: int
    kind: str
    outcome: str
    worker: str
    startedAt: str | None = None
    endedAt: str | None = None
    dropped: int = Field(description="Earlier lines not kept (the attempt said more)")
    lines: list[LogLine]


class RunLogs(_Out):
    """Attempts oldest first; pass ``lastId`` back as ``since`` for what comes after."""

    runId: str
    nodeId: str | None = None
    attempts: list[AttemptLogView]
    lastId: str | None = None


def attempt_view(entry: AttemptLogEntry) -> dict[str, Any]:
    """The API's shape of one attempt's log."""
    return {
        "id": entry.id,
        "nodeId": entry.node,
        "attempt": entry.attempt,
        "kind": entry.kind,
        "outcome": entry.outcome,
        "worker": entry.worker,
        "startedAt": iso(entry.started_ms),
        "endedAt": iso(entry.ended_ms),
        "dropped": entry.dropped,
        "lines": [{"at": iso(at), "level": level, "text": text} for at, level, text in entry.lines],
    }


async def _answer(request: web.Request, node_id: str | None) -> web.StreamResponse:
    run_id = request.match_info["runId"]
    q = query(request, LogsQuery)
    entries, last = await state(request).service.logs(
        run_id, node_id=node_id, after=q.since, count=q.limit
    )
    body: dict[str, Any] = {
        "runId": run_id,
        "attempts": [attempt_view(e) for e in entries],
        "lastId": last,
    }
    if node_id is not None:
        body["nodeId"] = node_id
    return json_response(body)


async def run_logs(request: web.Request) -> web.StreamResponse:
    """Every node's handler logs."""
    return await _answer(request, None)


async def node_logs(request: web.Request) -> web.StreamResponse:
    """One node's handler logs."""
    return await _answer(request, request.match_info["nodeId"])
