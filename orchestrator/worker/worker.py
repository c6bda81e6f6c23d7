"""The worker: takes jobs of the handlers it offers, runs them, reports the results.

One intake loop reads deliveries (never more in flight than ``concurrency``),
each delivery runs in its own task (async handlers on the event loop, sync ones
in a thread pool: ``outcome.py``) under the job's timeout, and one reporter task sends the
results in batches (``reporting.py``: applied in this process when it can, else ack +
inbox message per shard in one MULTI/EXEC).  A heartbeat task announces the worker and
extends the leases of the jobs it holds (``heartbeat.py``).
An attempt starts only when its task's resources fit in the worker's free capacity
(``capacity.py``); isolated handlers run in child processes (``isolation.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from typing import Any

import redis.asyncio as aioredis

from orchestrator.durations import format_duration
from orchestrator.errors import ConfigError
from orchestrator.keys import Keys
from orchestrator.protocol import InboxMessage
from orchestrator.security.handler_gate import HandlerGate
from orchestrator.settings import Settings
from orchestrator.stopping import cancel_and_wait, wait_then_cancel
from orchestrator.store.queue import Delivery, JobQueue
from orchestrator.store.timers import now_ms
from orchestrator.store.workers import LiveWorkers
from orchestrator.worker.capacity import Admission, Capacity, Reservations
from orchestrator.worker.capture import AttemptLog, capturing
from orchestrator.worker.heartbeat import REDIS_DOWN, Heartbeat
from orchestrator.worker.isolation import IsolationOptions, Limits, ProcessPool
from orchestrator.worker.outcome import InProcessCalls, failed, outcome
from orchestrator.worker.permissions import PermissionCheck
from orchestrator.worker.registry import HandlerContext, HandlerEntry, Registry
from orchestrator.worker.reporting import Applier, Reporter, supervise

log = logging.getLogger("dagq.worker")

STARTED_AFTER_S = 0.05
"""With an applier, ``started`` is reported for jobs still running after this long."""


def default_worker_id() -> str:
    """``<host>-<pid>-<random>``: unique per process, readable in the monitor."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class Worker:
    """A pool of handler slots fed from the job streams.

    ``inbox_only`` workers take fresh deliveries and report to the inbox but leave
    reclaiming other workers' deliveries and dead-lettering to full workers: meant
    for short-lived in-process workers (``dagq run``) that must not adopt the
    stuck jobs of a long-running deployment sharing the same Redis.
    """

    def __init__(
        self,
        conn_redis: aioredis.Redis,
        keys: Keys,
        settings: Settings,
        registry: Registry,
        *,
        concurrency: int = 8,
        worker_id: str | None = None,
        inbox_only: bool = False,
        grace_s: float = 10.0,
        gate: HandlerGate | None = None,
        isolation: IsolationOptions | None = None,
        capacity: Capacity | None = None,
        applier: Applier | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"worker concurrency must be at least 1, got {concurrency}")
        if len(registry) == 0:
            raise ConfigError("a worker needs at least one handler (--handlers FILE_OR_MODULE)")
        wid = worker_id if worker_id is not None else default_worker_id()
        if not wid or len(wid) > 200 or any(c.isspace() for c in wid):
            raise ConfigError(f"invalid worker id {wid!r}: 1-200 characters, no spaces")
        self.worker_id = wid
        self.settings = settings
        self.registry = registry
        self.handlers = registry.names()
        self.concurrency = concurrency
        self.inbox_only = inbox_only
        self.grace_s = max(0.0, grace_s)
        self.queue = JobQueue(conn_redis, keys, settings)
        self.directory = LiveWorkers(conn_redis, keys, settings)
        self.permissions = PermissionCheck(conn_redis, keys, settings, wid, gate)
        self.isolation = isolation if isolation is not None else IsolationOptions()
        # Isolated handlers' children (forked when first needed, at most one per slot).
        self.pool = ProcessPool(registry, self.isolation, size=concurrency)
        capacity = capacity if capacity is not None else Capacity.of_machine()
        self.admission = Admission(Reservations(capacity, self.isolation.max_memory_per_job))
        self.processed = 0
        self.started_ms = now_ms()
        self._interval_s = max(0.05, settings.queue.heartbeat_interval)
        # Blocking reads wake up at least once per heartbeat so reclaim runs on time.
        self._block_ms = max(50, min(2000, int(self._interval_s * 1000)))
        self._running: dict[Delivery, asyncio.Task[None]] = {}
        self._held: set[Delivery] = set()  # leased by us: running or awaiting report
        self._reporting: set[Delivery] = set()  # results being sent (and acked) right now
        self._results: list[tuple[Delivery, InboxMessage, asyncio.Future[None]]] = []
        self._logs: dict[Delivery, bytes] = {}  # attempt logs awaiting their report
        self.applier = applier
        self._begun: dict[Delivery, int] = {}  # when each job's handler began (ms)
        self._started_sent: set[Delivery] = set()
        self._later: set[asyncio.Future[None]] = set()
        self._results_ready = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._closing = False
        self.heart = Heartbeat(
            self.queue, wid, self._interval_s, self._announce, self._held, self._reporting
        )
        self._heart_stop = self.heart.stop
        self.calls = InProcessCalls(concurrency)
        self.reporter = Reporter(
            self.queue,
            wid,
            logs=self._logs,
            begun=self._begun,
            started_sent=self._started_sent,
            report_started=self._report_started,
            applier=applier,
            resend=self._send,
        )

    # -- lifecycle ---------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then finish or hand back in-flight jobs and retire."""
        await self.queue.ensure_groups(self.handlers)
        await self._announce()
        log.info(
            "worker %s ready: %d handler(s), concurrency %d",
            self.worker_id,
            len(self.handlers),
            self.concurrency,
        )
        reporter = asyncio.create_task(
            supervise(self._report_loop, "the reporter"), name="dagq-reporter"
        )
        heart = asyncio.create_task(
            supervise(self.heart.run, "the heartbeat"), name="dagq-heartbeat"
        )
        try:
            await self._intake(stop)
        finally:
            await self._shutdown(reporter, heart)

    def busy_threads(self) -> int:
        """Sync handlers still running in threads, timed-out ones included."""
        return self.calls.busy_threads()

    async def _intake(self, stop: asyncio.Event) -> None:
        next_reclaim = 0.0
        backoff = 0.1
        while not stop.is_set():
            ready = self.admission.ready()
            if ready:
                self._start(ready)
            free = self.concurrency - len(self._running)
            if free <= 0 or self.admission.waiting:
                self._slot_free.clear()
                await _wait_any(self._slot_free, stop)
                continue
            try:
                batch: list[Delivery] = []
                if not self.inbox_only and time.monotonic() >= next_reclaim:
                    next_reclaim = time.monotonic() + self._interval_s
                    batch += await self.queue.reclaim(self.worker_id, self.handlers, free)
                    for d in batch:
                        log.info(
                            "reclaimed %s/%s attempt %d (delivery %d)",
                            d.job.run,
                            d.job.node,
                            d.job.attempt,
                            d.deliveries,
                        )
                if len(batch) < free:
                    batch += await self.queue.read(
                        self.handlers,
                        self.worker_id,
                        free - len(batch),
                        0 if batch else self._block_ms,
                        wake=stop,
                    )
                backoff = 0.1
            except REDIS_DOWN as exc:
                log.warning("reading jobs failed (%s); retrying in %.1fs", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if batch and await self._admit(batch):
                # Only jobs too big for this worker came: give bigger workers a moment.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _admit(self, batch: list[Delivery]) -> bool:
        """Start what fits in the free capacity, hold what will fit later, hand back what
        never fits here; True if everything was handed back."""
        now, later, back = self.admission.sort(batch)
        self._held.update(later)  # their leases are extended while they wait
        if now:
            self._start(now)
        if back:
            try:
                await self.queue.hand_back(back, self.worker_id)
            except REDIS_DOWN as exc:  # its lease runs out; it is reclaimed
                log.warning("could not hand back %d job(s): %s", len(back), exc)
        return len(back) == len(batch)

    def _start(self, batch: list[Delivery]) -> None:
        started: asyncio.Future[None]
        if self.applier is None:
            started = asyncio.ensure_future(self._report_started(batch))
        else:
            # Results are applied here with their start: ``started`` is reported only for
            # jobs still running a moment later, and results never wait on it.
            self._begun.update((d, now_ms()) for d in batch)
            later = asyncio.ensure_future(self._started_later(batch))
            self._later.add(later)
            later.add_done_callback(self._later.discard)
            started = asyncio.get_running_loop().create_future()
            started.set_result(None)
        for d in batch:
            self._held.add(d)
            self._running[d] = asyncio.create_task(self._execute(d, started))

    async def _started_later(self, batch: list[Delivery]) -> None:
        await asyncio.sleep(STARTED_AFTER_S)
        await self._report_started([d for d in batch if d in self._running])

    async def _report_started(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        self._started_sent.update(batch)
        try:
            await self.queue.started_many(batch, self.worker_id)
        except REDIS_DOWN as exc:
            # Informational only: the result message still settles the attempt.
            log.warning("could not report %d started job(s): %s", len(batch), exc)

    async def _execute(self, d: Delivery, started: asyncio.Future[None]) -> None:
        try:
            message = await self.run_job(d)
        except Exception as exc:  # a bug of ours, not the handler's: still settle the attempt
            log.exception("worker error running %s/%s", d.job.run, d.job.node)
            message = self._failed(d, f"worker error: {type(exc).__name__}: {exc}")
        finally:
            self._running.pop(d, None)
            self.admission.reservations.release(d)
            self._slot_free.set()
        self._results.append((d, message, started))
        self._results_ready.set()

    # -- running one job -----------------------------------------------------------
    async def run_job(self, d: Delivery) -> InboxMessage:
        """Run one delivery's handler under its timeout; the message to report.

        What the handler logs and prints is kept with the attempt and reported with it.
        """
        attempt_log = AttemptLog()
        with capturing(attempt_log):
            message = await self._run_job(d)
        job = d.job
        payload = attempt_log.payload(
            node=job.node,
            attempt=job.attempt,
            token=job.token,
            worker=self.worker_id,
            kind=job.kind,
            outcome=message.type,
        )
        if payload is not None:
            self._logs[d] = payload
        return message

    async def _run_job(self, d: Delivery) -> InboxMessage:
        job = d.job
        entry = self.registry.get(job.handler)
        if entry is None:
            return self._failed(d, f"no handler named {job.handler!r} on worker {self.worker_id}")
        revoked = await self.permissions.revoked(job)
        if revoked is not None:
            return self._failed(d, revoked, final=True)
        ctx = HandlerContext(
            run_id=job.run,
            node_id=job.node,
            attempt=job.attempt,
            params=job.params,
            workflow_id=job.workflow,
            kind=job.kind,
            worker_id=self.worker_id,
            handler=job.handler,
            timeout_s=job.timeout_s,
            token=job.token,
            logical_time=job.logical_time,
        )
        timeout = job.timeout_s if job.timeout_s > 0 else None
        isolated = self.isolation.isolates(entry)
        try:
            async with asyncio.timeout(timeout) as scope:
                if isolated:  # the timeout's cancellation kills the child
                    limits = Limits.of(self.isolation, job.memory, job.timeout_s)
                    result = await self.pool.run(entry, job.input, ctx, limits)
                else:
                    result = await self.calls.call(entry, job.input, ctx)
        except TimeoutError as exc:
            if scope.expired():
                what = "killed after timeout" if isolated else "timed out after"
                return self._failed(d, f"{what} {format_duration(job.timeout_s)}", timed_out=True)
            return self._failed(d, str(exc) or type(exc).__name__)
        except (Exception, SystemExit) as exc:
            return self._failed(d, str(exc) or type(exc).__name__)
        return self._outcome(d, entry, result)

    def _outcome(self, d: Delivery, entry: HandlerEntry, result: Any) -> InboxMessage:
        return outcome(d, self.worker_id, entry, result)

    def _failed(
        self, d: Delivery, error: str, *, timed_out: bool = False, final: bool = False
    ) -> InboxMessage:
        return failed(d, self.worker_id, error, timed_out=timed_out, final=final)

    # -- reporting and heartbeats ------------------------------------------------------
    async def _report_loop(self) -> None:
        """Send results in batches: whatever finished while the last batch was in flight.

        Run under :func:`supervise`: if it dies, the batch in hand is released (its
        leases run out, the jobs are reclaimed) and the loop starts again.
        """
        if self._results or self._closing:
            self._results_ready.set()  # a restart: pick up what finished meanwhile
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            batch, self._results = self._results, []
            if not batch:
                if self._closing:
                    return
                continue
            # Being acked: a heartbeat must not take their vanished entries for lost leases.
            self._reporting.update(d for d, _, _ in batch)
            try:
                await asyncio.gather(*{s for _, _, s in batch})  # started goes out first
                sent = await self._send([(d, m) for d, m, _ in batch])
            finally:
                for d, _, _ in batch:
                    self._reporting.discard(d)
                    # Unsent ones too: no longer extended, their lease runs out.
                    self._held.discard(d)
                    self._logs.pop(d, None)
                    self._begun.pop(d, None)
                    self._started_sent.discard(d)
            for d, m in sent:
                self.processed += 1
                if m.type == "failed":
                    log.info(
                        "%s/%s attempt %d failed: %s", d.job.run, d.job.node, d.job.attempt, m.error
                    )
            if self._closing:
                self._results_ready.set()  # drain what is left, then return

    async def _send(
        self, batch: list[tuple[Delivery, InboxMessage]]
    ) -> list[tuple[Delivery, InboxMessage]]:
        """Complete ``batch`` (see :meth:`Reporter.send`); return what was sent."""
        return await self.reporter.send(batch)

    async def beat(self) -> None:
        """One heartbeat (see :class:`Heartbeat`)."""
        await self.heart.beat()

    async def _announce(self) -> None:
        await self.directory.announce(
            self.worker_id,
            self.handlers,
            socket.gethostname(),
            os.getpid(),
            self.concurrency,
            started_ms=self.started_ms,
            in_flight=len(self._running),
            processed=self.processed,
            resources=self.resources(),
        )

    def resources(self) -> dict[str, Any]:
        """Capacity, reservations and the isolated children's usage, as announced."""
        return {**self.admission.to_dict(), **self.pool.to_dict()}

    async def _shutdown(self, reporter: asyncio.Task[None], heart: asyncio.Task[None]) -> None:
        """Grace period for running jobs, flush results, hand back the rest, retire."""
        deadline = time.monotonic() + self.grace_s
        if self._running:
            log.info(
                "stopping: waiting up to %s for %d running job(s)",
                format_duration(self.grace_s),
                len(self._running),
            )
            await asyncio.wait(list(self._running.values()), timeout=self.grace_s)
        self.admission.waiting.clear()  # still held: handed back below
        # Every wait below is bounded: a cancellation landing in a Redis command can be
        # lost (see orchestrator/stopping.py), and a worker must stop all the same.
        await cancel_and_wait(list(self._running.values()), 5.0, "running attempts")
        self._closing = True
        self._results_ready.set()
        reported = await wait_then_cancel(
            reporter, max(deadline - time.monotonic(), 2.0), "reporting results"
        )
        if not reported:
            log.warning("could not report every result before stopping")
        elif not reporter.cancelled() and (error := reporter.exception()) is not None:
            log.error("the reporter had stopped: %r", error, exc_info=error)
        self._heart_stop.set()
        await wait_then_cancel(heart, 2.0 * self._interval_s + 10.0, "the heartbeat")
        await cancel_and_wait(list(self._later), 5.0, "started reports")
        try:
            # Still held: cancelled jobs and results that could not be reported.
            back = await self.queue.hand_back(list(self._held), self.worker_id)
            if back:
                log.info("handed back %d unfinished job(s)", back)
            await self.directory.retire(self.worker_id)
        except REDIS_DOWN as exc:
            log.warning(
                "could not hand back jobs or retire (%s): they are reclaimed after "
                "the visibility timeout",
                exc,
            )
        self.calls.pool.shutdown(wait=False, cancel_futures=True)
        await self.pool.close()
        log.info("worker %s stopped after %d job(s)", self.worker_id, self.processed)


async def _wait_any(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
