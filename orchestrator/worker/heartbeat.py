"""The worker's heartbeat: every interval, announce the worker and extend its leases.

A job's lease (its pending entry's idle time) runs out after the visibility timeout;
the heartbeat keeps it alive for as long as the worker holds the job (running it, or
its result not yet sent).  A lease another worker took meanwhile is let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from orchestrator.store.queue import Delivery, JobQueue

log = logging.getLogger("dagq.worker")

REDIS_DOWN = (RedisError, OSError)


class Heartbeat:
    """Beats until :attr:`stop` is set.

    ``held`` and ``reporting`` are the worker's own sets (shared, not copied): the jobs it
    holds, and those whose results are being acked right now (their vanishing entries are
    no lost leases).
    """

    def __init__(
        self,
        queue: JobQueue,
        worker_id: str,
        interval_s: float,
        announce: Callable[[], Awaitable[None]],
        held: set[Delivery],
        reporting: set[Delivery],
    ) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.interval_s = interval_s
        self.announce = announce
        self.held = held
        self.reporting = reporting
        self.stop = asyncio.Event()

    async def run(self) -> None:
        """Beat every interval until stopped; Redis being down only skips a beat."""
        # Stopped by an event, not Task.cancel(): redis-py can swallow a cancellation
        # that lands inside a command, and the loop would then beat forever.
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.interval_s)
                return
            try:
                await self.beat()
            except REDIS_DOWN as exc:
                log.warning("heartbeat failed: %s", exc)

    async def beat(self) -> None:
        """One heartbeat: announce the worker, extend the leases of the jobs it holds."""
        await self.announce()
        held = [d for d in self.held if d not in self.reporting]
        if not held:
            return
        for d in await self.queue.extend(held, self.worker_id):
            if d in self.reporting or d not in self.held:
                # Its result was acked while the extension was on its way: not lost, done.
                continue
            # Another worker reclaimed it (we stalled past the visibility timeout): our
            # result, if any, is still reported and the engine applies only the first for
            # the attempt's token.
            log.warning("lost the lease of %s/%s attempt %d", d.job.run, d.job.node, d.job.attempt)
            self.held.discard(d)
