"""The request pipeline: request ids, JSON errors, metrics, identity, authorization,
rate limits, body limits and parsing, and the audit trail.

Two middlewares.  ``outer`` wraps everything: it names the request, times it, and
turns every failure into the JSON error body (a real bug is logged once, in one line
without locals, and answered with a JSON 500 carrying the request id).  ``guard``
applies what the matched route declares: who may call it, its rate-limit action, its
query and body models (checked and parsed by ``api.body``); it audits every denial of a
known caller, and every mutating request before the change (then its outcome after: see
``security.audit``).  Refused strangers are only counted (``security.strangers``).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import redis
import structlog
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from orchestrator.api.body import is_text, parse_body, parse_query, printable, read_json
from orchestrator.api.http import BODY, IDENTITY, QUERY, REQUEST_ID, ROLE, json_response
from orchestrator.api.routes import AUTHENTICATED, PUBLIC, Route
from orchestrator.api.state import STATE, ApiState, Identity
from orchestrator.errors import (
    DagqError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    QueueFull,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from orchestrator.logs import describe_exception
from orchestrator.security import tokens
from orchestrator.security.audit import Outcome, Pending
from orchestrator.vocab import AuditOutcome

log = structlog.get_logger("dagq.api")

ROUTE_INDEX: web.AppKey[dict[AbstractRoute, Route]] = web.AppKey("dagq_route_index", dict)
"""The aiohttp route object of each table entry."""

MAX_PATH_PARAM = 128
_FINISHING: set[asyncio.Future[str | None]] = set()  # audit writes outliving their request
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def error_response(exc: DagqError, request_id: str) -> web.Response:
    """The JSON error body of ``exc`` with its status (and Retry-After / WWW-Authenticate)."""
    headers = {"X-Request-Id": request_id}
    if isinstance(exc, RateLimited | QueueFull):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif exc.http_status == 429:
        headers["Retry-After"] = "1"
    elif isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="dagq"'
    try:
        return json_response(exc.to_dict(), status=exc.http_status, headers=headers)
    except TypeError:  # a message or detail quoting a stranger's non-UTF-8 bytes
        return json_response(printable(exc.to_dict()), status=exc.http_status, headers=headers)


def _status_error(
    message: str, code: str, status: int, details: dict[str, Any] | None = None
) -> DagqError:
    err = DagqError(message, code=code, details=details)
    err.http_status = status
    return err


def _http_error(exc: web.HTTPException, request: web.Request) -> DagqError:
    if exc.status == 404:
        return NotFound(f"no such endpoint: {request.method} {request.path}")
    if exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        return _status_error(
            f"{request.method} is not allowed on {request.path}",
            "METHOD_NOT_ALLOWED",
            405,
            {"allowed": allowed},
        )
    if exc.status == 413:
        return PayloadTooLarge("request body too large")
    return _status_error(exc.reason or "request failed", f"HTTP_{exc.status}", max(exc.status, 400))


@web.middleware
async def outer(request: web.Request, handler: Any) -> web.StreamResponse:
    """Request id, timing and metrics, and JSON for every error."""
    started = time.perf_counter()
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    try:
        response: web.StreamResponse = await handler(request)
    except DagqError as exc:
        response = error_response(exc, request_id)
    except web.HTTPException as exc:
        response = error_response(_http_error(exc, request), request_id)
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "")
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        # Redis is down, or a cluster is failing over for longer than the client rides out:
        # the caller may retry; nothing is wrong with the request or with dagq.
        log.warning("api_redis_unavailable", error=describe_exception(exc), rid=request_id)
        response = error_response(
            Unavailable("Redis is unavailable right now; retry shortly"), request_id
        )
        response.headers["Retry-After"] = "5"
    except Exception as exc:
        # One line: type, message, innermost frame, route, request id.  Never a traceback
        # with locals (those printed other users' keys), and cheap enough for a flood.
        log.error(
            "api_unhandled",
            error=describe_exception(exc),
            method=request.method,
            route=_template(request),
            rid=request_id,
        )
        response = error_response(
            DagqError(
                f"internal error; the server log has the details under request id {request_id}",
                code="INTERNAL",
                details={"requestId": request_id},
            ),
            request_id,
        )
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
    template = _template(request)
    st = request.app[STATE]
    st.metrics.observe(request.method, template, response.status, time.perf_counter() - started)
    return response


def _template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


# --- identity and authorization ----------------------------------------------------------


def identify(request: web.Request, st: ApiState) -> Identity:
    """The caller from ``X-API-Key`` or ``Authorization: Bearer``; Unauthorized if neither."""
    key = request.headers.get("X-API-Key")
    if key is not None:
        found = st.key_cache.get(key)
        if found is None:
            # The exact value: a key with a leading vertical tab or a trailing no-break space
            # is not the key.  (HTTP itself drops spaces and tabs around a header value.)
            found = st.users.verify_key(key)
            if found is None:
                raise Unauthorized("invalid API key")
            st.key_cache.put(key, found)
        return Identity(found.name, "key")
    auth = request.headers.get("Authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        token = token.lstrip(" ")  # RFC 6750: "Bearer" 1*SP token
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        claims = tokens.verify(token, secret=st.jwt_secret)
        account = st.users.get(claims.sub)
        if account is None or account.disabled:
            raise Unauthorized("the token's user no longer exists or is disabled")
        return Identity(account.name, "token")
    if not st.settings.workflow.security.auth_required:
        return Identity("anonymous", "none")
    raise Unauthorized("authentication required: send X-API-Key or Authorization: Bearer <token>")


def authorize(route: Route, ident: Identity, role: str, st: ApiState) -> None:
    """Forbidden unless the caller holds the route's permission."""
    if route.permission == AUTHENTICATED or not st.settings.workflow.security.rbac_enabled:
        return
    if not st.authorizer.allowed(ident.user, route.permission):
        who = f"{ident.user} ({role})" if role else f"{ident.user} (no role)"
        raise Forbidden(
            f"{who} may not use {route.permission}",
            details={"permission": route.permission, "role": role or None},
        )


# --- audit -------------------------------------------------------------------------------


async def audit(
    st: ApiState,
    request: web.Request,
    route: Route,
    ident: Identity | None,
    role: str,
    outcome: Outcome,
    status: int,
    detail: str | None = None,
) -> None:
    """Record one entry; an audit sink failure is logged, never turned into a failed request."""
    if not st.settings.workflow.security.audit_logging:
        return
    try:
        await st.audit.record(
            user=ident.user if ident else None,
            role=role or None,
            action=route.operation_id,
            resource=f"{request.method} {request.path}",
            outcome=outcome,
            request_id=request[REQUEST_ID],
            status=status,
            detail=detail,
        )
    except Unavailable as exc:
        log.error("audit_failed", error=exc.message, rid=request[REQUEST_ID])


async def _stranger(st: ApiState, request: web.Request) -> None:
    """Count a refused unauthenticated request (never an audit entry: see strangers.py)."""
    if not st.settings.workflow.security.audit_logging:
        return
    try:
        await st.strangers.hit(request.remote)
    except Unavailable as exc:
        log.error("audit_failed", error=exc.message, rid=request[REQUEST_ID])


async def _begin(
    st: ApiState, request: web.Request, route: Route, ident: Identity, role: str
) -> Pending | None:
    """Put the change on record before the handler makes it (Unavailable: refuse it)."""
    if not st.settings.workflow.security.audit_logging:
        return None
    body = request.get(BODY)
    target = body.get("id") if route.spec_body and isinstance(body, dict) else None
    detail = f"workflow {target}" if isinstance(target, str) else None
    if route.subject is not None:
        named = request.match_info.get("name") or getattr(body, "name", None)
        detail = f"{route.subject} {named}" if isinstance(named, str) else None
    if route.audit_detail is not None:
        detail = route.audit_detail(request)
    return await st.audit.begin(
        user=ident.user,
        role=role or None,
        action=route.operation_id,
        resource=f"{request.method} {request.path}",
        request_id=request[REQUEST_ID],
        detail=detail,
    )


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Enforce the matched route's declarations (see the module docstring)."""
    st = request.app[STATE]
    route = request.app[ROUTE_INDEX].get(request.match_info.route)
    if route is None or route.permission == PUBLIC:
        response: web.StreamResponse = await handler(request)
        return response
    ident: Identity | None = None
    role = ""
    try:
        ident = identify(request, st)
        role = st.authorizer.role_of(ident.user) or ""
        request[IDENTITY] = ident
        request[ROLE] = role
        authorize(route, ident, role, st)
        if route.rate_limit is not None:
            await st.limiter.hit(ident.user, route.rate_limit)
    except (Unauthorized, Forbidden, RateLimited) as exc:
        if ident is None:
            await _stranger(st, request)
        else:
            await audit(
                st, request, route, ident, role, AuditOutcome.DENIED, exc.http_status, exc.message
            )
        raise
    pending: Pending | None = None
    try:
        for name, value in request.match_info.items():
            if len(value) > MAX_PATH_PARAM:  # no id is longer; the document says so too
                raise NotFound(f"no {name} {value[:40]!r}...", details={name: value[:128]})
            if not is_text(value):
                raise NotFound(f"no {name} {value[:40]!r}", details={name: printable(value)})
        if route.query is not None:
            request[QUERY] = parse_query(request, route.query)
        if route.body is not None:
            data = await read_json(request, route, st)
            request[BODY] = parse_body(route, data)
        if route.mutating:
            pending = await _begin(st, request, route, ident, role)
        response = await handler(request)
    except DagqError as exc:
        if route.mutating:
            # A refusal past the route's permission (a handler the user may not use).
            outcome = AuditOutcome.DENIED if isinstance(exc, Forbidden) else AuditOutcome.ERROR
            await _end(st, request, route, ident, pending, outcome, exc.http_status, exc.message)
        raise
    except asyncio.CancelledError:
        # The client went away mid-change (aiohttp cancels the handler): the change may or
        # may not have happened. Record that, in a task the cancellation cannot stop.
        if pending is not None:
            task = asyncio.ensure_future(
                st.audit.finish(pending, AuditOutcome.INTERRUPTED, detail="the client disconnected")
            )
            _FINISHING.add(task)
            task.add_done_callback(_FINISHING.discard)
        raise
    except Exception as exc:
        if route.mutating and (pending is not None or not isinstance(exc, web.HTTPException)):
            status = exc.status if isinstance(exc, web.HTTPException) else 500
            await _end(
                st, request, route, ident, pending, AuditOutcome.ERROR, status, type(exc).__name__
            )
        raise
    if route.mutating:
        await _end(st, request, route, ident, pending, AuditOutcome.ALLOWED, response.status)
    return response


async def _end(
    st: ApiState,
    request: web.Request,
    route: Route,
    ident: Identity,
    pending: Pending | None,
    outcome: Outcome,
    status: int,
    detail: str | None = None,
) -> None:
    """The outcome of a mutating request: completes its begun entry, or (refused before the
    change began: bad query, body or path) records one on its own."""
    if pending is not None:
        await st.audit.finish(pending, outcome, status=status, detail=detail)
    else:
        role = request.get(ROLE) or ""
        await audit(st, request, route, ident, role, outcome, status, detail)
