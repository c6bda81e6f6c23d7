"""The aiohttp application factory: state, routes, middleware and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute
from redis.exceptions import RedisError

from orchestrator.api.file_changes import audit_file_changes
from orchestrator.api.handlers.health import OPENAPI_DOC, encode_document
from orchestrator.api.handlers.hooks import RATE_ACTION
from orchestrator.api.metrics import ApiMetrics
from orchestrator.api.middleware import ROUTE_INDEX, guard, outer
from orchestrator.api.openapi import build_document
from orchestrator.api.routes import ROUTES, Route
from orchestrator.api.state import STATE, ApiState
from orchestrator.logs import describe_exception, ensure_structlog
from orchestrator.security import tokens
from orchestrator.security.audit import AUDIT_FILE, AuditLog
from orchestrator.security.file_audit import FileAuditor, FileState
from orchestrator.security.handler_gate import LocalGate, publish_policy
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.ratelimit import RateLimiter
from orchestrator.security.rbac import Authorizer, read_policy_files
from orchestrator.security.strangers import StrangerCounter
from orchestrator.security.users import UserStore
from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.runs import RunService
from orchestrator.settings import Settings
from orchestrator.store.connection import Connection
from orchestrator.store.queue import JobQueue
from orchestrator.store.workers import LiveWorkers

log = structlog.get_logger("dagq.api")

MAX_LINE_BYTES = 32768
"""Request line and header size the server accepts (``web.AppRunner(max_line_size=...,
max_field_size=...)``): every URL the OpenAPI document allows reaches the JSON error
handling instead of aiohttp's plain-text 400."""


SERVER_OPTIONS: dict[str, Any] = {
    "max_line_size": MAX_LINE_BYTES,
    "max_field_size": MAX_LINE_BYTES,
    # aiohttp would inflate a gzip body on the event loop as it arrives: a 0.5 MB gzip bomb
    # held the loop ~2 s.  ``read_json`` inflates instead, bounded and off the loop.
    "auto_decompress": False,
}
"""The server options of the API (``dagq api``, ``dagq up`` and the tests' servers)."""


def runner(app: web.Application, **options: Any) -> web.AppRunner:
    """An ``AppRunner`` for the API with its server options (``options`` go to aiohttp)."""
    return web.AppRunner(app, **SERVER_OPTIONS, **options)


_STOP_GRACE_S = 10.0


def create_app(
    settings: Settings,
    conn: Connection,
    *,
    policies_dir: Path | None = None,
    run_orchestrator: bool = True,
    watch_interval_s: float = 0.5,
) -> web.Application:
    """The API application over ``conn`` (which the caller owns and closes).

    Raises :class:`~orchestrator.errors.ConfigError` when the policies cannot be loaded:
    the API never starts without a policy that decides.
    """
    ensure_structlog()  # never structlog's default renderer: it prints tracebacks with locals
    directory = ensure_policies_dir(Path(policies_dir or settings.resolved_policies_dir()))
    audit = AuditLog(conn.redis, conn.keys, path=settings.data_dir / AUDIT_FILE)
    users = UserStore.in_dir(directory)

    def on_disk(kind: str) -> str | None:
        return read_policy_files(directory).digest if kind == "policy" else users.disk_digest()

    state = ApiState(
        settings=settings,
        conn=conn,
        service=RunService(conn.redis, conn.keys, settings),
        authorizer=Authorizer.from_dir(directory),
        users=users,
        audit=audit,
        strangers=StrangerCounter(conn.redis, conn.keys),
        files=FileAuditor(audit, conn.redis, conn.keys, on_disk=on_disk),
        limiter=RateLimiter(
            conn.redis,
            conn.keys,
            {
                **settings.workflow.security.rate_limiting,
                RATE_ACTION: settings.triggers.hook_rate_limit,
            },
        ),
        queue=JobQueue(conn.redis, conn.keys, settings),
        workers=LiveWorkers(conn.redis, conn.keys, settings),
        metrics=ApiMetrics(),
        jwt_secret=tokens.load_or_create_secret(
            settings.data_dir, configured=settings.api.jwt_secret
        ),
    )
    state.service.gate = LocalGate(state.authorizer)
    app = web.Application(
        middlewares=[outer, guard],
        # aiohttp's own cap, a second line behind the middleware's Content-Length check.
        client_max_size=settings.limits.max_body_bytes,
    )
    app[STATE] = state
    index: dict[AbstractRoute, Route] = {}
    for route in ROUTES:
        index[app.router.add_route(route.method, route.path, route.handler)] = route
    app[ROUTE_INDEX] = index
    app[OPENAPI_DOC] = encode_document(build_document(ROUTES))

    async def watch_policies(app: web.Application) -> AsyncIterator[None]:
        async with _until_stopped(_watch, app[STATE], watch_interval_s):
            yield
        app[STATE].audit.close()
        app[STATE].cpu.close()

    app.cleanup_ctx.append(watch_policies)
    app.cleanup_ctx.append(_audit_upkeep)
    if run_orchestrator:
        app.cleanup_ctx.append(_orchestrator)
    app.on_shutdown.append(_closing)
    return app


Loop = Callable[[ApiState, float, asyncio.Event], Coroutine[Any, Any, None]]


@contextlib.asynccontextmanager
async def _until_stopped(loop: Loop, state: ApiState, interval_s: float) -> AsyncIterator[None]:
    """Run ``loop`` as a task until the block ends, stopping it with an event, not a cancel:
    redis-py 8.1 can swallow a cancellation that lands inside a command, and the loop would
    then run on forever."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop(state, interval_s, stop))
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, _STOP_GRACE_S)
        except TimeoutError:
            log.warning("background_stop_timeout", loop=getattr(loop, "__name__", "?"))


async def _tick(stop: asyncio.Event, interval_s: float) -> bool:
    """Wait ``interval_s`` or until ``stop``; True while the loop should go on."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), interval_s)
    return not stop.is_set()


async def _watch(state: ApiState, interval_s: float, stop: asyncio.Event) -> None:
    """Hot reload: policy files through the Authorizer, the users file through the store;
    every reload, accepted or refused, goes to the audit trail; the policy in force is
    published to Redis for the workers' handler checks."""
    published = await _publish(state, None)
    while await _tick(stop, interval_s):
        try:
            state.authorizer.poll()
            published = await _publish(state, published)
            if state.users.reload_if_changed():
                state.key_cache.clear()  # revoked or rotated keys stop working now
            await audit_file_changes(state)
        except Exception as exc:  # the watcher must outlive any surprise
            log.error("policy_watch_failed", error=describe_exception(exc))


async def _publish(state: ApiState, published: str | None) -> str | None:
    """Publish the policy in force when it is not the one last published; its digest."""
    change = state.authorizer.in_force()
    if change.digest == published:
        return published
    try:
        await publish_policy(state.conn.redis, state.conn.keys, change)
    except (RedisError, OSError) as exc:
        log.warning("policy_publish_failed", error=str(exc))
        return published
    return change.digest


_AUDIT_UPKEEP_S = 10.0


async def _upkeep(state: ApiState, interval_s: float, stop: asyncio.Event) -> None:
    """Record the files as found at start, keep this process's audit owner key alive, and
    record the in-flight entries of processes that died as interrupted."""
    if state.settings.workflow.security.audit_logging:
        found = (state.authorizer.in_force(), state.users.in_force())
        await state.files.record(FileState.of_policy(found[0]), at_start=True)
        await state.files.record(FileState.of_users(found[1]), at_start=True)
    while True:
        try:
            await state.audit.heartbeat()
            await state.audit.sweep()
        except Exception as exc:  # a Redis outage must not end the upkeep
            log.warning("audit_upkeep_failed", error=str(exc))
        if not await _tick(stop, interval_s):
            return


async def _audit_upkeep(app: web.Application) -> AsyncIterator[None]:
    """The audit upkeep (:func:`_upkeep`) while the app runs."""
    async with _until_stopped(_upkeep, app[STATE], _AUDIT_UPKEEP_S):
        yield


async def _orchestrator(app: web.Application) -> AsyncIterator[None]:
    """Run the orchestrator loop inside the API process while the app runs."""
    orchestrator = Orchestrator(app[STATE].service)
    await orchestrator.ensure_groups()
    stop = asyncio.Event()
    task = asyncio.create_task(orchestrator.run(stop))
    yield
    stop.set()
    try:
        await asyncio.wait_for(task, _STOP_GRACE_S)
    except TimeoutError:
        log.warning("orchestrator_stop_timeout")
    except Exception as exc:
        log.error("orchestrator_failed", error=describe_exception(exc))


async def _closing(app: web.Application) -> None:
    """Shutdown began: live event streams send their end frame and finish."""
    app[STATE].closing.set()
