"""Operations: the caller, audit log, policy status, users, queues, dead letters, handlers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from orchestrator.api import admin_schemas
from orchestrator.api.http import IDENTITY, ROLE, body, json_response, query, state
from orchestrator.errors import BadRequest
from orchestrator.security.rbac import PERMISSIONS


async def whoami(request: web.Request) -> web.StreamResponse:
    """Who the caller is, its role and the permissions it holds (the UI greys out the rest)."""
    st = state(request)
    ident = request[IDENTITY]
    allowed = [p for p in PERMISSIONS if _holds(st.authorizer.allowed, ident.user, p, request)]
    return json_response(
        {
            "user": ident.user,
            "role": request.get(ROLE) or None,
            "permissions": allowed,
            "auth": ident.method,
        }
    )


def _holds(allowed: Any, user: str, perm: str, request: web.Request) -> bool:
    # With RBAC switched off every authenticated caller may do everything.
    if not state(request).settings.workflow.security.rbac_enabled:
        return True
    return bool(allowed(user, perm))


_MAX_ID_PART = 2**64 - 1


def _stream_id(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    ms, _, seq = value.partition("-")
    parsed = (int(ms), int(seq or 0))
    if max(parsed) > _MAX_ID_PART:
        raise BadRequest(f"{value!r} is not a valid entry id (parts must fit 64 bits)")
    return parsed


async def audit(request: web.Request) -> web.StreamResponse:
    """Audit entries, newest first."""
    q = query(request, admin_schemas.AuditQuery)
    since, before = _stream_id(q.since), _stream_id(q.before)
    # Ranges Redis would refuse are simply empty: nothing is older than 0-0, and so on.
    if (before is not None and before <= (0, 0)) or (
        since is not None
        and (since >= (_MAX_ID_PART, _MAX_ID_PART) or (before and since >= before))
    ):
        return json_response({"entries": []})
    entries = await state(request).audit.read(
        since_id=q.since, before_id=q.before, limit=q.limit, user=q.user, outcome=q.outcome
    )
    return json_response({"entries": entries})


async def strangers(request: web.Request) -> web.StreamResponse:
    """Refused unauthenticated requests per minute and address, newest first."""
    q = query(request, admin_schemas.StrangersQuery)
    return json_response({"minutes": await state(request).strangers.read(q.minutes)})


async def policy_status(request: web.Request) -> web.StreamResponse:
    """The policy in force, when it was loaded, and why the latest edit was refused."""
    st = state(request)
    status = st.authorizer.status().to_dict()
    status["usersFileError"] = st.users.last_error
    return json_response(status)


async def users(request: web.Request) -> web.StreamResponse:
    """Every user with its role (never a secret or a hash)."""
    st = state(request)
    rows = []
    for u in st.users.list():
        rows.append(
            {
                "name": u.name,
                "role": u.role,
                "policyRole": st.authorizer.role_of(u.name),
                "keys": [{"id": k.id, "created": k.created.isoformat()} for k in u.api_keys],
                "hasPassword": u.has_password,
                "disabled": u.disabled,
                "created": u.created.isoformat(),
                "updated": u.updated.isoformat(),
            }
        )
    return json_response({"users": rows})


async def queues(request: web.Request) -> web.StreamResponse:
    """Queue depths per handler and lane, per shard, and the live workers."""
    st = state(request)
    depths = await st.queue.depths()
    live = await st.workers.live_workers()
    depths["deadLetters"] = sum(s["dlq"] for s in depths["shards"])
    depths["workers"] = [w.to_dict() for w in live]
    return json_response(depths)


async def dead_letters(request: web.Request) -> web.StreamResponse:
    """The oldest dead letters."""
    st = state(request)
    q = query(request, admin_schemas.DeadLetterQuery)
    if q.shard is not None and q.shard >= st.keys.shards:
        raise BadRequest(f"no shard {q.shard}: shards are 0..{st.keys.shards - 1}")
    letters = await st.queue.dead_letters(q.shard, count=q.limit)
    return json_response({"deadLetters": [d.to_dict() for d in letters]})


async def requeue_dead(request: web.Request) -> web.StreamResponse:
    """Put dead letters back on their queues."""
    b = body(request, admin_schemas.DeadLetterIds)
    moved = await state(request).queue.requeue_dead(b.ids, shard=b.shard)
    return json_response({"requeued": moved})


async def purge_dead(request: web.Request) -> web.StreamResponse:
    """Delete dead letters and fail their attempts."""
    b = body(request, admin_schemas.DeadLetterIds)
    purged = await state(request).queue.purge_dead(b.ids, shard=b.shard)
    return json_response({"purged": purged})


async def handlers(request: web.Request) -> web.StreamResponse:
    """Handlers that live workers offer (the designer's inspector suggests these)."""
    offered = await state(request).workers.handlers_offered()
    return json_response(
        {"handlers": [{"name": n, "workers": sorted(w)} for n, w in sorted(offered.items())]}
    )
