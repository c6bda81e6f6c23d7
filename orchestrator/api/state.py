"""What every handler and middleware reaches through the application: one typed state object.

Kept apart from ``app.py`` so that handlers, middleware and the route table can import
the key without importing the application factory (which imports them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, ParamSpec, TypeVar

from aiohttp import web

from orchestrator.api.metrics import ApiMetrics
from orchestrator.keys import Keys
from orchestrator.security.audit import AuditLog
from orchestrator.security.file_audit import FileAuditor
from orchestrator.security.ratelimit import RateLimiter
from orchestrator.security.rbac import Authorizer
from orchestrator.security.strangers import StrangerCounter
from orchestrator.security.users import User, UserStore
from orchestrator.service.runs import RunService
from orchestrator.settings import Settings
from orchestrator.store.connection import Connection
from orchestrator.store.queue import JobQueue
from orchestrator.store.workers import LiveWorkers

P = ParamSpec("P")
T = TypeVar("T")
AuthMethod = Literal["key", "token", "none"]
_KEY_CACHE_S = 2.0
_KEY_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: the user name and how they proved it."""

    user: str
    method: AuthMethod


@dataclass
class KeyCache:
    """Recently verified API keys, so a busy client does not cost a file stat per request.

    Only successes are cached (a flood of wrong keys cannot grow it), for ``ttl_s``:
    a revoked key stops working within that time.
    """

    ttl_s: float = _KEY_CACHE_S
    _entries: dict[str, tuple[User, float]] = field(default_factory=dict)

    def get(self, key: str) -> User | None:
        """The cached user of ``key`` if verified less than ``ttl_s`` ago."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[1] < time.monotonic():
            del self._entries[key]
            return None
        return hit[0]

    def put(self, key: str, user: User) -> None:
        """Remember a successful verification."""
        if len(self._entries) >= _KEY_CACHE_MAX:
            self._entries.clear()
        self._entries[key] = (user, time.monotonic() + self.ttl_s)

    def clear(self) -> None:
        """Forget everything (the users file changed)."""
        self._entries.clear()


class CpuPool:
    """Threads for the CPU-heavy part of a request (parsing and judging big bodies).

    The event loop must answer ``/healthz`` and every other request within milliseconds,
    so a 1 MB body is parsed and a 500-node spec judged here, not on the loop.  Two
    threads: under the GIL more would only take longer turns away from the loop, and a
    flood of big bodies queues here instead of multiplying.
    """

    def __init__(self, threads: int = 2) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="dagq-cpu")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a pool thread; its exception propagates."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        """Stop the threads (work not started yet is dropped)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class ApiState:
    """The services one API process works with."""

    settings: Settings
    conn: Connection
    service: RunService
    authorizer: Authorizer
    users: UserStore
    audit: AuditLog
    strangers: StrangerCounter
    """Refused unauthenticated requests, counted apart from the audit trail."""
    files: FileAuditor
    """Audit entries of policies-file edits."""
    limiter: RateLimiter
    queue: JobQueue
    workers: LiveWorkers
    metrics: ApiMetrics
    jwt_secret: str
    key_cache: KeyCache = field(default_factory=KeyCache)
    cpu: CpuPool = field(default_factory=CpuPool)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the application shuts down: live event streams finish."""

    @property
    def keys(self) -> Keys:
        """The deployment's Redis key layout."""
        return self.conn.keys


STATE: web.AppKey[ApiState] = web.AppKey("dagq_state", ApiState)
"""The application's :class:`ApiState`."""
