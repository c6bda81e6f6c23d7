"""What the worker's reporter does when reporting itself goes wrong.

Redis being down is retried by the reporter (``Worker._send``).  Anything else — a
result that cannot be encoded, a bug in the reporting path — must neither stop the
other results nor leave a job leased forever:

* :func:`replacement` turns a result that could not be sent into a failed attempt
  with a clear error (sent once; if even that fails the job is released: its lease
  is no longer extended, it is reclaimed and, failing each time, dead-lettered
  after ``queue.max_deliveries``);
* :func:`supervise` restarts the reporter loop with a capped backoff when it dies,
  so the worker never runs on as a zombie that takes jobs it cannot report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from orchestrator.protocol import InboxMessage
from orchestrator.store.queue import Delivery
from orchestrator.store.timers import now_ms

Send = Callable[
    [list[tuple[Delivery, InboxMessage]]], Awaitable[list[tuple[Delivery, InboxMessage]]]
]
"""The reporter's send: complete a batch, return what was sent."""

log = logging.getLogger("dagq.worker")

RESTART_FIRST_S = 0.1
RESTART_MAX_S = 5.0
ERROR_MAX_CHARS = 300
"""The error of a replacement message is cut here: it explains, it does not dump."""


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 1] + "…"


def replacement(d: Delivery, message: InboxMessage, exc: BaseException) -> InboxMessage | None:
    """The failed attempt to send instead of ``message``, whose sending raised ``exc``;
    None when ``message`` was already such a failure (then the job is released)."""
    if message.type != "succeeded" and message.type != "failed":
        return None
    try:
        message.encode()
    except Exception as enc:  # the result itself cannot be encoded
        error = f"result is not JSON-serialisable: {_short(enc)}"
    else:
        if message.type == "failed":
            return None  # a plain failure that still cannot be sent: give up on it
        error = f"result could not be reported: {_short(exc)}"
    failed = InboxMessage(
        type="failed",
        run=d.job.run,
        at_ms=now_ms(),
        node=d.job.node,
        token=d.job.token,
        error=error,
        worker=message.worker,
    )
    try:
        failed.encode()
    except Exception:  # a job field that cannot be encoded: nothing to send
        return None
    return failed


async def send_instead(
    send: Send, d: Delivery, message: InboxMessage, exc: Exception
) -> list[tuple[Delivery, InboxMessage]]:
    """Report a failed attempt for ``message``, whose sending raised ``exc``; [] when even
    that cannot be sent (the job is released: reclaimed, in the end dead-lettered)."""
    failed = replacement(d, message, exc)
    log.error(
        "could not report the result of %s (%s): %s",
        describe(d),
        type(exc).__name__,
        "reporting it as failed" if failed is not None else "releasing the job",
    )
    if failed is None:
        return []
    try:
        return await send([(d, failed)])
    except Exception:
        log.exception("could not report %s as failed either: releasing the job", describe(d))
        return []


def describe(d: Delivery) -> str:
    """``run/node attempt N`` for log lines (never the input, output or error text)."""
    return f"{d.job.run}/{d.job.node} attempt {d.job.attempt}"


async def supervise(loop: Callable[[], Awaitable[None]], name: str) -> None:
    """Run ``loop`` until it returns; when it raises, log it and start it again after a
    backoff (doubling, at most ``RESTART_MAX_S``).  Cancellation stops it."""
    backoff = RESTART_FIRST_S
    while True:
        try:
            await loop()
            return
        except Exception:
            log.exception("%s stopped on an error; restarting in %.1fs", name, backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, RESTART_MAX_S)
