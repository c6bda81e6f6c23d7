"""Run insight: replay a run, its Gantt and critical path, compare two runs, node stats."""

from __future__ import annotations

from aiohttp import web

from orchestrator.api import insight_schemas as s
from orchestrator.api.http import json_response, query, state
from orchestrator.service.insight import Insight


def _insight(request: web.Request) -> Insight:
    st = state(request)
    return Insight(st.service, st.cpu.run)


async def replay_at(request: web.Request) -> web.StreamResponse:
    """Node statuses at a moment of the run (``at`` seconds, or after ``event`` events)."""
    q = query(request, s.ReplayQuery)
    out = await _insight(request).replay_at(request.match_info["runId"], at_s=q.at, event=q.event)
    return json_response(out)


async def replay_frames(request: web.Request) -> web.StreamResponse:
    """The whole replay, one step per recorded event."""
    return json_response(await _insight(request).frames(request.match_info["runId"]))


async def gantt(request: web.Request) -> web.StreamResponse:
    """One bar per node attempt and the critical path."""
    return json_response(await _insight(request).gantt(request.match_info["runId"]))


async def diff(request: web.Request) -> web.StreamResponse:
    """This run compared with ``other``."""
    q = query(request, s.DiffQuery)
    return json_response(await _insight(request).diff(request.match_info["runId"], q.other))


async def stats(request: web.Request) -> web.StreamResponse:
    """p50/p95 per node over the workflow's last finished runs."""
    q = query(request, s.StatsQuery)
    return json_response(await _insight(request).stats(request.match_info["workflowId"], q.last))
