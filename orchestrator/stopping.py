"""Stopping asyncio tasks within a deadline, even when a cancellation gets lost.

On Python 3.11 ``asyncio.wait_for`` returns the result of an inner future that finished
as the cancellation arrived, and drops the cancellation (CPython gh-86296, fixed in 3.12).
redis-py sends every command through ``wait_for``, so a ``Task.cancel()`` landing in a
Redis command is lost about one time in ten, and a loop stopped that way runs on.  Loops
therefore stop on an event; the tasks still to end are cancelled again until they do, and
no wait for them lasts longer than its deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("dagq.stopping")

_RECANCEL_S = 0.1


async def cancel_and_wait(
    tasks: Iterable[asyncio.Future[Any]], timeout_s: float, what: str
) -> bool:
    """Cancel ``tasks`` (again and again) until they end, at most ``timeout_s``.

    True if they all ended; otherwise a warning names ``what`` and how many still run,
    and they are left behind (the caller goes on stopping).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, timeout_s)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(_RECANCEL_S, left))
    if pending:
        log.warning(
            "%s: %d task(s) still running after %.1fs; left behind", what, len(pending), timeout_s
        )
    return not pending


async def wait_then_cancel(task: asyncio.Future[Any], timeout_s: float, what: str) -> bool:
    """Let ``task`` end by itself for up to ``timeout_s``, then :func:`cancel_and_wait` it
    (two seconds more); True if it ended."""
    await asyncio.wait({task}, timeout=max(0.0, timeout_s))
    if task.done():
        return True
    log.warning("%s did not end within %.1fs: cancelling it", what, timeout_s)
    return await cancel_and_wait([task], 2.0, what)
