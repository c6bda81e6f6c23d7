"""What an attempt becomes: the inbox message of a handler's result or failure, and the
in-process calls of handlers (async ones on the event loop, sync ones in a thread pool).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import orjson

from orchestrator.protocol import InboxMessage
from orchestrator.store.queue import Delivery
from orchestrator.store.timers import now_ms
from orchestrator.worker.registry import HandlerContext, HandlerEntry


def failed(
    d: Delivery, worker_id: str, error: str, *, timed_out: bool = False, final: bool = False
) -> InboxMessage:
    """The attempt failed with ``error`` (``final``: no retry)."""
    return InboxMessage(
        type="failed",
        run=d.job.run,
        at_ms=now_ms(),
        node=d.job.node,
        token=d.job.token,
        error=error,
        timed_out=timed_out,
        worker=worker_id,
        final=final,
    )


def outcome(d: Delivery, worker_id: str, entry: HandlerEntry, result: Any) -> InboxMessage:
    """The attempt succeeded with ``result``, unless it is no JSON object (or None)."""
    if result is None:
        result = {}
    if not isinstance(result, dict):
        return failed(
            d,
            worker_id,
            f"handler {entry.name!r} returned {type(result).__name__}, expected a dict or None",
        )
    try:
        orjson.dumps(result)  # the encoder of the inbox message
    except Exception as exc:
        return failed(
            d,
            worker_id,
            f"handler {entry.name!r} returned output that is not JSON-serialisable: {exc}",
        )
    return InboxMessage(
        type="succeeded",
        run=d.job.run,
        at_ms=now_ms(),
        node=d.job.node,
        token=d.job.token,
        output=result,
        worker=worker_id,
    )


class InProcessCalls:
    """Calls handlers in the worker's process: async ones awaited, sync ones in threads.

    Twice the slots in threads: a sync handler that overran its timeout still occupies a
    thread (Python cannot kill a thread) while its slot is given to new work.
    """

    def __init__(self, concurrency: int) -> None:
        self._busy = 0
        self._busy_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(
            max_workers=concurrency * 2, thread_name_prefix="dagq-handler"
        )

    def busy_threads(self) -> int:
        """Sync handlers still running in threads, timed-out ones included."""
        with self._busy_lock:
            return self._busy

    def _in_thread(self, fn: Any, data: dict[str, Any], ctx: HandlerContext) -> Any:
        with self._busy_lock:
            self._busy += 1
        try:
            return fn(data, ctx)
        finally:
            with self._busy_lock:
                self._busy -= 1

    async def call(self, entry: HandlerEntry, data: dict[str, Any], ctx: HandlerContext) -> Any:
        """The handler's result (awaited when a sync wrapper returns an awaitable)."""
        if entry.is_async:
            return await cast(Awaitable[Any], entry.fn(data, ctx))
        loop = asyncio.get_running_loop()
        # When the timeout cancels this await the thread runs on (threads cannot be
        # killed); its late result is simply dropped.  The copied context carries
        # contextvars (log fields) into the thread.
        call = functools.partial(
            contextvars.copy_context().run, self._in_thread, entry.fn, data, ctx
        )
        result = await loop.run_in_executor(self.pool, call)
        if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
            result = await result
        return result
