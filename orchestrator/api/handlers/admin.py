"""Operations: the caller, audit log, policy status, users, queues, dead letters, handlers."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from orchestrator.api import admin_schemas
from orchestrator.api.file_changes import audit_file_changes
from orchestrator.api.http import IDENTITY, ROLE, body, json_response, query, state
from orchestrator.errors import BadRequest, NotFound
from orchestrator.security.rbac import PERMISSIONS
from orchestrator.security.users import User


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


def _user_row(request: web.Request, u: User) -> dict[str, Any]:
    return {
        "name": u.name,
        "role": u.role,
        "policyRole": state(request).authorizer.role_of(u.name),
        "keys": [{"id": k.id, "created": k.created.isoformat()} for k in u.api_keys],
        "hasPassword": u.has_password,
        "disabled": u.disabled,
        "created": u.created.isoformat(),
        "updated": u.updated.isoformat(),
    }


async def users(request: web.Request) -> web.StreamResponse:
    """Every user with its role (never a secret or a hash)."""
    return json_response({"users": [_user_row(request, u) for u in state(request).users.list()]})


async def _changed(request: web.Request) -> None:
    """After a change to the users file: the policy and the users in force at once (not at
    the next watch), revoked keys refused now, and the file change on the audit trail."""
    st = state(request)
    st.authorizer.reload_now()
    st.users.reload_if_changed()
    st.key_cache.clear()
    await audit_file_changes(st)


async def create_user(request: web.Request) -> web.StreamResponse:
    """Add a user with a role (and a password); its first API key is shown once."""
    b = body(request, admin_schemas.NewUser)
    user, key = await asyncio.to_thread(
        state(request).users.add, b.name, b.role, password=b.password
    )
    await _changed(request)
    return json_response({"user": _user_row(request, user), "apiKey": key}, status=201)


async def change_user(request: web.Request) -> web.StreamResponse:
    """Change a user's role, or disable/enable it (the last admin stays an admin)."""
    b = body(request, admin_schemas.UserChange)
    name = request.match_info["name"]
    store = state(request).users
    if b.role is None and b.disabled is None:
        raise BadRequest("nothing to change: give a role, or disabled true/false")
    user = store.get(name)
    if user is None:
        raise NotFound(f"no user called {name!r}")
    if b.role is not None:
        user = await asyncio.to_thread(store.set_role, name, b.role)
    if b.disabled is not None:
        user = await asyncio.to_thread(store.set_disabled, name, b.disabled)
    await _changed(request)
    return json_response(_user_row(request, user))


async def issue_key(request: web.Request) -> web.StreamResponse:
    """A new API key for the user, shown once; its older keys stop working."""
    name = request.match_info["name"]
    key = await asyncio.to_thread(state(request).users.rotate, name)
    await _changed(request)
    return json_response({"user": name, "apiKey": key}, status=201)


async def set_password(request: web.Request) -> web.StreamResponse:
    """Set (or, with null, remove) the user's web password."""
    b = body(request, admin_schemas.NewPassword)
    name = request.match_info["name"]
    await asyncio.to_thread(state(request).users.set_password, name, b.password)
    await _changed(request)
    user = state(request).users.get(name)
    if user is None:
        raise NotFound(f"no user called {name!r}")
    return json_response(_user_row(request, user))


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
