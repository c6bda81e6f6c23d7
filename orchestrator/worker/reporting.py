"""What the worker's reporter does when reporting itself goes wrong.

:class:`Reporter` sends a batch of results: applied in this process when it can
(``applier``), else completed through the inbox; Redis being down is retried.  Anything else — a
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
from collections.abc import Awaitable, Callable, Sequence

from redis.exceptions import ResponseError

from orchestrator.protocol import InboxMessage
from orchestrator.store.queue import Delivery, JobQueue
from orchestrator.store.timers import now_ms
from orchestrator.worker.heartbeat import REDIS_DOWN

Send = Callable[
    [list[tuple[Delivery, InboxMessage]]], Awaitable[list[tuple[Delivery, InboxMessage]]]
]
"""The reporter's send: complete a batch, return what was sent."""
Applier = Callable[
    [Sequence[tuple[Delivery, InboxMessage, int]], str],
    Awaitable[list[tuple[Delivery, InboxMessage]]],
]
"""Applies results in this process (delivery, message, handler start ms; worker id) and
returns those it did not: :meth:`Orchestrator.apply_results` when the worker runs the
orchestrator loop too."""

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


class Reporter:
    """The worker's half that reports results (its state is the worker's own, shared).

    ``logs``: attempt logs awaiting their report; ``begun``: when each job's handler
    began (ms); ``started_sent``: jobs whose ``started`` went out; ``report_started``
    sends ``started`` for jobs; ``resend`` is the worker's send, used for retries one
    result at a time."""

    def __init__(
        self,
        queue: JobQueue,
        worker_id: str,
        *,
        logs: dict[Delivery, bytes],
        begun: dict[Delivery, int],
        started_sent: set[Delivery],
        report_started: Callable[[list[Delivery]], Awaitable[None]],
        applier: Applier | None,
        resend: Send,
    ) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.logs = logs
        self.begun = begun
        self.started_sent = started_sent
        self.report_started = report_started
        self.applier = applier
        self.resend = resend

    async def send(
        self, batch: list[tuple[Delivery, InboxMessage]]
    ) -> list[tuple[Delivery, InboxMessage]]:
        """Complete ``batch``; retry while Redis is unreachable; return what was sent.

        A batch Redis refuses (an error reply, not a lost connection) is retried one
        result at a time so one bad result cannot hold up the others; a result still
        refused is dropped: its job stays leased, is redelivered after the
        visibility timeout and, refused each time, ends in the dead-letter stream.
        Any other error (a result that cannot be encoded, a bug) is isolated the same
        way, and the result it concerns is replaced by a failed attempt that says why.
        """
        done: list[tuple[Delivery, InboxMessage]] = []
        if self.applier is not None:
            done, batch = await self._apply_own(batch)
            if not batch:
                return done
        backoff = 0.1
        while True:
            try:
                logs = [(d.job.run, self.logs[d]) for d, _ in batch if d in self.logs]
                await self.queue.complete_many(batch, logs)
                return done + batch
            except ResponseError as exc:
                if len(batch) == 1:
                    d = batch[0][0]
                    log.error(
                        "Redis refused the result of %s/%s attempt %d: %s",
                        d.job.run,
                        d.job.node,
                        d.job.attempt,
                        exc,
                    )
                    return []
                sent = list(done)
                for item in batch:
                    sent += await self.resend([item])
                return sent
            except REDIS_DOWN as exc:
                log.warning("reporting %d result(s) failed (%s); retrying", len(batch), exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:
                if len(batch) > 1:
                    sent = list(done)
                    for item in batch:
                        sent += await self.resend([item])
                    return sent
                d, message = batch[0]
                self.logs.pop(d, None)  # the attempt log may be what could not be written
                return done + await send_instead(self.resend, d, message, exc)

    async def _apply_own(
        self, batch: list[tuple[Delivery, InboxMessage]]
    ) -> tuple[list[tuple[Delivery, InboxMessage]], list[tuple[Delivery, InboxMessage]]]:
        """Results this process's orchestrator applied itself, and the rest for the inbox
        (preceded there by the ``started`` they have not sent yet)."""
        assert self.applier is not None
        own = [(d, m, self.begun.get(d, m.at_ms)) for d, m in batch if d not in self.logs]
        rest = [(d, m) for d, m in batch if d in self.logs]
        if own:
            try:
                rest += await self.applier(own, self.worker_id)
            except REDIS_DOWN as exc:
                log.warning("applying %d result(s) here failed (%s): via the inbox", len(own), exc)
                rest = list(batch)
            except Exception as exc:  # a bug applying them: the inbox path dead-letters it
                log.error(
                    "applying %d result(s) here raised %s: via the inbox",
                    len(own),
                    type(exc).__name__,
                )
                rest = list(batch)
        left = {d for d, _ in rest}
        done = [(d, m) for d, m in batch if d not in left]
        await self.report_started([d for d, _ in rest if d not in self.started_sent])
        return done, rest


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
