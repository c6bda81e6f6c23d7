"""The orchestrator loop: applies inbox messages to runs, in batches, with no leader.

Any number of these run at once (inside ``dagq api``, ``dagq worker``, ``dagq run``
or ``dagq orchestrator``).  Each reads its shard inboxes through the consumer group
``orch``, groups a batch by run, applies the pure transitions to each run's state
(cached by version) and writes every run's result in one pipelined round trip of
compare-and-set scripts.  A run someone else changed meanwhile is reloaded and its
messages re-applied; stale messages are no-ops, so redelivery is harmless.  Entries
a crashed orchestrator left pending are claimed after ``claim_idle_s``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from orchestrator.engine import transitions
from orchestrator.engine.commands import Command
from orchestrator.engine.events import (
    DeadlinePassed,
    Event,
    NodeFailed,
    NodeStarted,
    NodeSucceeded,
    TimerFired,
)
from orchestrator.engine.state import RunState
from orchestrator.errors import DagqError
from orchestrator.keys import ORCH_GROUP
from orchestrator.protocol import InboxMessage
from orchestrator.service.runs import RunService
from orchestrator.store.timers import Timers

log = logging.getLogger("dagq.orchestrator")
_MAX_ROUNDS = 20


def to_event(msg: InboxMessage) -> Event | None:
    """The engine event an inbox message stands for (None for ``wake``)."""
    if msg.type == "started" and msg.node and msg.token:
        return NodeStarted(msg.node, msg.token, msg.at_ms, msg.worker)
    if msg.type == "succeeded" and msg.node and msg.token:
        return NodeSucceeded(msg.node, msg.token, msg.at_ms, msg.output or {})
    if msg.type == "failed" and msg.node and msg.token:
        return NodeFailed(msg.node, msg.token, msg.at_ms, msg.error or "failed", msg.timed_out)
    if msg.type == "timer" and msg.node and msg.token:
        return TimerFired(msg.node, msg.token, msg.at_ms)
    if msg.type == "deadline":
        return DeadlinePassed(msg.at_ms)
    return None


class Orchestrator:
    """One orchestrator process's loop over every shard."""

    def __init__(
        self,
        service: RunService,
        *,
        consumer: str | None = None,
        batch: int = 1000,
        claim_idle_s: float | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.service = service
        self.redis: aioredis.Redis = service.redis
        self.keys = service.keys
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self.batch = batch
        # Entries a crashed orchestrator read but never acknowledged are taken over
        # after the same visibility timeout that governs worker deliveries.
        idle_s = service.settings.queue.visibility_timeout if claim_idle_s is None else claim_idle_s
        self.claim_idle_ms = int(idle_s * 1000)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[RunState, int]] = OrderedDict()
        self.timers = Timers(self.redis, self.keys)
        self.applied = 0

    async def ensure_groups(self) -> None:
        """Create the ``orch`` consumer group on every shard's inbox."""
        for shard in self.keys.all_shards():
            try:
                await self.redis.xgroup_create(
                    self.keys.inbox(shard), ORCH_GROUP, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def run(self, stop: asyncio.Event, *, grace_s: float = 10.0) -> None:
        """Consume, promote timers and claim abandoned entries until ``stop`` is set.

        A stop lets each shard's consumer finish the batch in hand (up to ``grace_s``):
        entries read but not acknowledged would otherwise wait a whole visibility timeout
        for another orchestrator to claim them, and every run they belong to would stall.
        """
        await self.ensure_groups()
        consumers = [asyncio.create_task(self._consume(s, stop)) for s in self.keys.all_shards()]
        others = [
            asyncio.create_task(self.timers.run(stop, max_sleep_s=0.25)),
            asyncio.create_task(self._claim_loop(stop)),
        ]
        try:
            await stop.wait()
            await asyncio.wait(consumers, timeout=grace_s)
        finally:
            tasks = [*consumers, *others]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _consume(self, shard: int, stop: asyncio.Event) -> None:
        inbox = self.keys.inbox(shard)
        while not stop.is_set():
            try:
                reply: Any = await self.redis.xreadgroup(
                    ORCH_GROUP, self.consumer, {inbox: ">"}, count=self.batch, block=500
                )
                for _, entries in reply or []:
                    if entries:
                        await self.process(shard, entries)
            except ResponseError as exc:  # NOGROUP after a FLUSH: recreate and go on
                log.warning("inbox group missing (shard %d): %s", shard, exc)
                await asyncio.sleep(0.1)
                await self.ensure_groups()
            except (RedisError, OSError) as exc:
                if stop.is_set():
                    return
                log.warning("inbox read failed (shard %d), retrying: %s", shard, exc)
                await asyncio.sleep(0.5)

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(1.0, self.claim_idle_ms / 3000))
                return
            except TimeoutError:
                pass
            for shard in self.keys.all_shards():
                try:
                    await self.claim_abandoned(shard)
                except (RedisError, OSError) as exc:
                    log.warning("claiming abandoned inbox entries failed: %s", exc)

    async def claim_abandoned(self, shard: int) -> int:
        """Process inbox entries another orchestrator read but never acknowledged."""
        inbox = self.keys.inbox(shard)
        start = "0-0"
        claimed = 0
        while True:
            reply: Any = await self.redis.xautoclaim(
                inbox, ORCH_GROUP, self.consumer, self.claim_idle_ms, start, count=self.batch
            )
            start, entries = reply[0], [e for e in reply[1] if e[1]]
            if entries:
                claimed += len(entries)
                await self.process(shard, entries)
            if start in (b"0-0", "0-0"):
                return claimed

    async def process(self, shard: int, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Apply a batch of inbox entries and acknowledge them."""
        by_run: dict[str, list[Event]] = {}
        for entry_id, fields in entries:
            try:
                msg = InboxMessage.decode(fields[b"d"])
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("dropping malformed inbox entry %r: %s", entry_id, exc)
                continue
            event = to_event(msg)
            if event is not None:
                by_run.setdefault(msg.run, []).append(event)
        if by_run:
            await self._apply_batch(by_run)
        await self.redis.xack(self.keys.inbox(shard), ORCH_GROUP, *[e[0] for e in entries])

    async def _apply_batch(self, by_run: dict[str, list[Event]]) -> None:
        todo = dict(by_run)
        for _ in range(_MAX_ROUNDS):
            if not todo:
                return
            missing = [r for r in todo if r not in self._cache]
            fresh = set(missing)
            if missing:
                loaded = await self.service.runs.load_many(missing)
                for run_id in missing:
                    if run_id in loaded:
                        self._remember(run_id, *loaded[run_id])
                    else:
                        log.info("inbox messages for unknown run %s dropped (expired?)", run_id)
                        todo.pop(run_id)
            writes: list[tuple[RunState, RunState, list[Command], int]] = []
            order: list[str] = []
            retry: dict[str, list[Event]] = {}
            for run_id, events in todo.items():
                state, version = self._cache[run_id]
                new, commands = await self._apply_events(state, events)
                if new is not state:
                    writes.append((state, new, commands, version))
                    order.append(run_id)
                elif run_id not in fresh:
                    # Nothing applied to a *cached* state: another orchestrator may have
                    # moved the run on (dispatched the attempt these messages are
                    # about), and no compare-and-set would tell us.  Judge them on the
                    # state as Redis has it now.  A state loaded after the messages
                    # were read is recent enough: a result cannot exist before the
                    # write that dispatched its job.
                    self._cache.pop(run_id, None)
                    retry[run_id] = events
            results = await self.service.runs.write_many(writes)
            for run_id, (_, new, _, _), result in zip(order, writes, results, strict=True):
                if result is None:
                    self._cache.pop(run_id, None)
                    retry[run_id] = todo[run_id]
                else:
                    self.applied += 1
                    if new.terminal:
                        self._cache.pop(run_id, None)
                    else:
                        self._remember(run_id, new, result)
            todo = retry
        log.warning("gave up on %d runs after %d contended rounds", len(todo), _MAX_ROUNDS)

    async def _apply_events(
        self, state: RunState, events: list[Event]
    ) -> tuple[RunState, list[Command]]:
        try:
            graph = await self.service.specs.graph(state.workflow_id, state.workflow_version)
        except DagqError as exc:
            log.error("run %s: cannot load its workflow: %s", state.run_id, exc)
            return state, []
        commands: list[Command] = []
        current = state
        for event in events:
            try:
                current, cmds = transitions.apply(graph, current, event, self.service.config)
            except DagqError as exc:
                log.warning("run %s: %s ignored: %s", state.run_id, type(event).__name__, exc)
                continue
            except Exception:  # a bug must not wedge the inbox: log it and keep going
                log.exception("run %s: applying %r failed", state.run_id, event)
                continue
            commands.extend(cmds)
        return current, commands

    def _remember(self, run_id: str, state: RunState, version: int) -> None:
        self._cache[run_id] = (state, version)
        self._cache.move_to_end(run_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def stats(self) -> dict[str, Any]:
        """Counters for metrics."""
        return {"applied": self.applied, "cached_runs": len(self._cache)}
