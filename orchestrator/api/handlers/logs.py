"""Handler logs of a run: what each attempt logged and printed (``GET .../logs``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.http import json_response, query, state
from orchestrator.api.schemas import StreamId
from orchestrator.service.views import iso
from orchestrator.store.attempt_logs import AttemptLogEntry
from orchestrator.wire.runs import RunLogs as RunLogs


class LogsQuery(BaseModel):
    """``since``: the ``lastId`` of an earlier answer (attempts logged after it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    since: StreamId | None = None
    limit: int = Field(default=100, ge=1, le=1000)


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
