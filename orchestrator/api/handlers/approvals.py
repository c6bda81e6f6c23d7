"""Approvals and signals: decide, send, list what waits for the caller."""

from __future__ import annotations

from aiohttp import web

from orchestrator.api import approval_schemas as sa
from orchestrator.api.http import BODY, ROLE, body, json_response, query, state, user
from orchestrator.api.shapes import node_shape
from orchestrator.service import approvals
from orchestrator.service.notify import notify_secret


async def decide(request: web.Request) -> web.StreamResponse:
    """Approve or reject a waiting approval (409 with the reason when it no longer waits)."""
    st = state(request)
    run_id, node_id = request.match_info["runId"], request.match_info["nodeId"]
    d = body(request, sa.Decision)
    run = await approvals.decide(
        st.service,
        run_id,
        node_id,
        user=user(request),
        role=request.get(ROLE) or None,
        approve=d.approve,
        comment=d.comment,
    )
    view = await st.service.describe(run)
    return json_response(node_shape(view["nodes"][node_id], node_id))


async def send_signal(request: web.Request) -> web.StreamResponse:
    """Send a signal to a run (404: the workflow never waits for it; 409: too late)."""
    st = state(request)
    run_id, name = request.match_info["runId"], request.match_info["name"]
    payload = body(request, sa.SignalPayload).root
    _, delivered = await approvals.signal(st.service, run_id, name, payload, user=user(request))
    return json_response(
        {"runId": run_id, "signal": name, "delivered": delivered, "kept": delivered is None},
        status=202,
    )


async def list_approvals(request: web.Request) -> web.StreamResponse:
    """Approvals waiting for the caller (or every one, with ``all``)."""
    q = query(request, sa.ApprovalsQuery)
    found = await approvals.waiting_approvals(
        state(request).service,
        user=user(request),
        role=request.get(ROLE) or None,
        everyone=q.all,
    )
    return json_response({"approvals": [a.to_api() for a in found], "total": len(found)})


def decision_detail(request: web.Request) -> str | None:
    """The audit entry's detail: what was decided, on which node, and the comment."""
    d = request.get(BODY)
    if not isinstance(d, sa.Decision):
        return None
    word = "approve" if d.approve else "reject"
    note = f": {d.comment}" if d.comment else ""
    return f"{word} {request.match_info['nodeId']}{note}"[:1000]


def signal_detail(request: web.Request) -> str | None:
    """The audit entry's detail: the signal's name and its payload's keys."""
    p = request.get(BODY)
    keys = sorted(p.root)[:20] if isinstance(p, sa.SignalPayload) else []
    return f"signal {request.match_info['name']} (keys: {', '.join(keys) or 'none'})"[:1000]


async def get_notify_secret(request: web.Request) -> web.StreamResponse:
    """The key signing workflow notifications (``X-Dagq-Signature``), for their receivers."""
    st = state(request)
    svc = st.service
    secret = await notify_secret(svc.redis, svc.keys, svc.settings)
    return json_response(
        {"secret": secret, "configured": bool(svc.settings.triggers.notify_secret)}
    )
