"""The orchestrator loop: applies inbox messages to runs, in batches, with no leader.

Any number of these run at once (inside ``dagq api``, ``dagq worker``, ``dagq run``
or ``dagq orchestrator``).  Each reads its shard inboxes through the consumer group
``orch``, groups a batch by run, applies the pure transitions to each run's state
(cached by version) and writes every run's result in one pipelined round trip of
compare-and-set scripts.  A run someone else changed meanwhile is reloaded and its
messages re-applied; stale messages are no-ops, so redelivery is harmless.  Entries
a crashed orchestrator left pending are claimed after ``claim_idle_s``, and so are
entries this one could not apply (a run contended for every round, a message that
raised): an entry is acknowledged only once applied, and one that keeps failing moves
to the shard's dead letters with its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from orchestrator.engine import transitions
from orchestrator.engine.commands import Command
from orchestrator.engine.events import (
    NodeStarted,
)
from orchestrator.engine.state import RunState
from orchestrator.errors import DagqError
from orchestrator.keys import ORCH_GROUP
from orchestrator.protocol import InboxMessage
from orchestrator.service.children import start_child
from orchestrator.service.inbox_events import Pending, to_event
from orchestrator.service.notify import Notifier
from orchestrator.service.runs import RunService
from orchestrator.service.scheduler import Scheduler
from orchestrator.stopping import cancel_and_wait
from orchestrator.store.queue import Delivery
from orchestrator.store.queue_admin import QueueAdmin
from orchestrator.store.timers import Timers, now_ms

log = logging.getLogger("dagq.orchestrator")
_MAX_ROUNDS = 20
_OWN_ROUNDS = 3
"""Tries of a worker's own results (each on the run reloaded) before the inbox takes them:
with several worker processes, another one often wrote the run since this one cached it."""
INBOX_KEEP_MS = 60_000
"""Applied inbox entries are kept this long (to look at), then trimmed."""


def _entry_id(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id as (milliseconds, sequence), to compare."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class Orchestrator:
    """One orchestrator process's loop over every shard."""

    def __init__(
        self,
        service: RunService,
        *,
        consumer: str | None = None,
        batch: int | None = None,
        claim_idle_s: float | None = None,
        cache_size: int | None = None,
        schedules: bool = True,
    ) -> None:
        self.service = service
        self.redis: aioredis.Redis = service.redis
        self.keys = service.keys
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        queue = service.settings.queue
        self.batch = queue.orchestrator_batch if batch is None else batch
        # Entries a crashed orchestrator read but never acknowledged are taken over
        # after the same visibility timeout that governs worker deliveries.
        idle_s = queue.visibility_timeout if claim_idle_s is None else claim_idle_s
        self.claim_idle_ms = int(idle_s * 1000)
        self.cache_size = queue.orchestrator_cache if cache_size is None else cache_size
        self._cache: OrderedDict[str, tuple[RunState, int]] = OrderedDict()
        self.timers = Timers(self.redis, self.keys)
        self.admin = QueueAdmin(self.redis, self.keys)
        self.applied = 0
        self.applied_own = 0
        """Results applied by :meth:`apply_results` (the worker's own, no inbox hop)."""
        self.scheduler = Scheduler(service) if schedules else None

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
        if self.scheduler is not None:
            others.append(asyncio.create_task(self.scheduler.run(stop)))
        notifier = Notifier(self.redis, self.keys, self.service.settings, self.consumer)
        others.append(asyncio.create_task(notifier.run(stop)))
        try:
            await stop.wait()
            await asyncio.wait(consumers, timeout=grace_s)
        finally:
            # Each loop also ends on ``stop``: a cancellation lost in a Redis command
            # (orchestrator/stopping.py) only delays it, and the wait is bounded.
            await cancel_and_wait([*consumers, *others], 10.0, "orchestrator loops")

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
            except (RedisError, OSError) as exc:
                if stop.is_set():
                    return
                # Redis may have lost recent writes (a failover promotes a replica that
                # lags): cached states could be newer than what is stored now.
                self._cache.clear()
                log.warning("inbox read failed (shard %d), retrying: %s", shard, exc)
                await asyncio.sleep(0.5)
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    # After a FLUSH (or a failover that lost the group): recreate it.
                    with contextlib.suppress(RedisError, OSError):
                        await self.ensure_groups()
            except Exception:
                # A bug must not end the loop silently (the inbox would fill with nobody
                # reading it): say so, and go on; what was read stays pending and is
                # claimed again (then dead-lettered if it keeps failing).
                log.exception("applying inbox entries failed (shard %d); going on", shard)
                self._cache.clear()
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
                    await self.trim_inbox(shard)
                except (RedisError, OSError) as exc:
                    log.warning("claiming abandoned inbox entries failed: %s", exc)
                except Exception:
                    # As in _consume: a bug must not end the loop silently (nothing
                    # would claim entries left pending again).
                    log.exception("claiming inbox entries failed (shard %d); going on", shard)
                    self._cache.clear()

    async def trim_inbox(self, shard: int, *, keep_ms: int = INBOX_KEEP_MS) -> int:
        """Drop inbox entries applied more than ``keep_ms`` ago; how many went.

        Acknowledged entries are never read again, but a stream keeps them: without
        this the inbox would hold every result ever reported (about 3 KB per run of
        ten nodes).  Only entries older than both the oldest unacknowledged one and
        the last one delivered to the group go (``XTRIM MINID``, whole stream nodes),
        so nothing still to apply is lost.

        An approximate ``XTRIM`` evicts at most 100 stream nodes per call (Redis's
        default ``LIMIT``, 10,000 entries with the default node size), so it is repeated
        until a call evicts nothing: with one call per claim-loop tick (10 s by default), an
        inbox taking more than 1,000 entries a second outgrew the trim.  Each call stays
        as short as that default makes it.
        """
        inbox = self.keys.inbox(shard)
        groups: Any = await self.redis.xinfo_groups(inbox)
        mine = [g for g in groups if g["name"] in (ORCH_GROUP, ORCH_GROUP.encode())]
        if not mine:
            return 0
        bound = min((now_ms() - keep_ms, 0), _entry_id(mine[0]["last-delivered-id"]))
        pending: Any = await self.redis.xpending(inbox, ORCH_GROUP)
        if pending["pending"]:
            bound = min(bound, _entry_id(pending["min"]))
        if bound <= (0, 0):
            return 0
        minid, trimmed = f"{bound[0]}-{bound[1]}", 0
        while True:
            evicted = int(await self.redis.xtrim(inbox, minid=minid, approximate=True))
            if not evicted:
                return trimmed
            trimmed += evicted

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
        """Apply a batch of inbox entries; acknowledge those applied (or moot).

        An entry whose run stayed contended, or whose message failed to apply, is left
        pending: it is delivered again (claimed after ``claim_idle_s``).  One that
        failed ``queue.max_deliveries`` times, or cannot be read, moves to the shard's
        dead letters with its error.
        """
        by_run: dict[str, list[Pending]] = {}
        done: list[str] = []
        for raw_id, fields in entries:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
            try:
                msg = InboxMessage.decode(fields[b"d"])
            except (KeyError, ValueError, TypeError) as exc:
                await self._dead_letter(shard, entry_id, 1, f"malformed inbox message: {exc}")
                continue
            if msg.type == "child":
                try:
                    event = await start_child(self.service, msg)
                except DagqError as exc:  # the parent is gone: nothing to start
                    log.info("child request of run %s dropped: %s", msg.run, exc.message)
                    event = None
                except Exception:  # Redis trouble: the entry stays pending, read again
                    log.exception("starting a child of run %s failed", msg.run)
                    continue
            else:
                event = to_event(msg)
            if event is None:
                done.append(entry_id)
            else:
                by_run.setdefault(msg.run, []).append(Pending(entry_id, event))
        failed: dict[str, str] = {}
        if by_run:
            left = await self._apply_batch(by_run, failed)
            kept = {p.entry_id for run_id in left for p in by_run[run_id]} | set(failed)
            done += [p.entry_id for ps in by_run.values() for p in ps if p.entry_id not in kept]
        if done:
            await self.redis.xack(self.keys.inbox(shard), ORCH_GROUP, *done)
        if failed:
            await self._after_failures(shard, failed)

    async def _after_failures(self, shard: int, failed: dict[str, str]) -> None:
        """Dead-letter the failing entries that were delivered too often; leave the rest."""
        limit = self.service.settings.queue.max_deliveries
        inbox = self.keys.inbox(shard)
        for entry_id, error in failed.items():
            rows: Any = await self.redis.xpending_range(inbox, ORCH_GROUP, entry_id, entry_id, 1)
            deliveries = int(rows[0]["times_delivered"]) if rows else 1
            if deliveries >= limit:
                await self._dead_letter(shard, entry_id, deliveries, error)
            else:
                log.warning(
                    "inbox entry %s failed (delivery %d of %d), left for redelivery: %s",
                    entry_id, deliveries, limit, error,
                )  # fmt: skip

    async def _dead_letter(self, shard: int, entry_id: str, deliveries: int, why: str) -> None:
        log.error("inbox entry %s (shard %d) moved to the dead letters: %s", entry_id, shard, why)
        await self.admin.dead_letter_inbox(shard, ORCH_GROUP, entry_id, deliveries, why)

    async def _apply_batch(
        self, by_run: dict[str, list[Pending]], failed: dict[str, str]
    ) -> set[str]:
        """Apply each run's messages; the runs still contended after the last round.

        Entries whose message raised are recorded in ``failed`` (entry id -> error).
        """
        todo = dict(by_run)
        for _ in range(_MAX_ROUNDS):
            if not todo:
                return set()
            held, fresh = await self._hold(todo)
            for run_id in [r for r in todo if r not in held]:
                log.info("inbox messages for unknown run %s dropped (expired?)", run_id)
                todo.pop(run_id)
            writes: list[tuple[RunState, RunState, list[Command], int]] = []
            order: list[str] = []
            retry: dict[str, list[Pending]] = {}
            for run_id, pending in todo.items():
                state, version = held[run_id]
                new, commands = await self._apply_events(state, pending, failed)
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
                    retry[run_id] = pending
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
        if todo:
            log.warning(
                "%d runs still contended after %d rounds: their messages are left for redelivery",
                len(todo),
                _MAX_ROUNDS,
            )
        return set(todo)

    async def apply_results(
        self, items: Sequence[tuple[Delivery, InboxMessage, int]], worker_id: str
    ) -> list[tuple[Delivery, InboxMessage]]:
        """Apply results a worker of this process just produced; those not applied.

        ``items`` are (delivery, result message, the ms its handler began).  Each run's
        results, preceded by their ``started`` (a no-op when the inbox brought it first),
        are applied to the run as this process has it and written with one compare-and-set
        that also acknowledges the jobs: the successors are queued without the hop through
        the inbox and another orchestrator.  A run another process wrote meanwhile is
        reloaded and tried again (``_OWN_ROUNDS``): the process holding the results keeps
        them.  What cannot be applied here (a run still contended, a stale result, a
        message that fails, WAIT for replicas) is returned for the inbox path; the
        attempt's token keeps either path to one application per attempt.
        """
        if self.service.runs.replicas.enabled:
            return [(d, m) for d, m, _ in items]
        by_run: dict[str, list[tuple[Delivery, InboxMessage, int]]] = {}
        for item in items:
            by_run.setdefault(item[1].run, []).append(item)
        rest: list[tuple[Delivery, InboxMessage, int]] = []
        todo = by_run
        for _ in range(_OWN_ROUNDS):
            todo = await self._apply_own_round(todo, rest, worker_id)
            if not todo:
                break
        for run_items in todo.values():
            rest += run_items
        return [(d, m) for d, m, _ in rest]

    async def _apply_own_round(
        self,
        todo: dict[str, list[tuple[Delivery, InboxMessage, int]]],
        rest: list[tuple[Delivery, InboxMessage, int]],
        worker_id: str,
    ) -> dict[str, list[tuple[Delivery, InboxMessage, int]]]:
        """One round of :meth:`apply_results`: the runs to try again, reloaded (a lost
        compare-and-set, a cached state older than the jobs); the rest goes to ``rest``."""
        held, fresh = await self._hold(todo)
        again: dict[str, list[tuple[Delivery, InboxMessage, int]]] = {}
        writes: list[tuple[RunState, RunState, list[Command], int]] = []
        acks: list[list[tuple[str, str]]] = []
        order: list[str] = []
        for run_id, run_items in todo.items():
            cached = held.get(run_id)
            events = [
                ev
                for d, msg, begun in run_items
                for ev in (NodeStarted(d.job.node, d.job.token, begun, worker_id), to_event(msg))
                if ev is not None
            ]
            if cached is None or len(events) != 2 * len(run_items):
                rest += run_items
                continue
            state, version = cached
            pending = [Pending(str(i), ev) for i, ev in enumerate(events)]
            failed: dict[str, str] = {}
            new, commands = await self._apply_events(state, pending, failed)
            if new is state and not failed and run_id not in fresh:
                self._cache.pop(run_id, None)  # cached before the dispatch of these jobs
                again[run_id] = run_items
                continue
            if failed or new is state:
                rest += run_items
                continue
            writes.append((state, new, commands, version))
            acks.append([(d.stream, d.entry_id) for d, _, _ in run_items])
            order.append(run_id)
        results = await self.service.runs.write_many(writes, acks) if writes else []
        for run_id, (_, new, _, _), result in zip(order, writes, results, strict=True):
            if result is None:  # another process wrote the run meanwhile: reload, again
                self._cache.pop(run_id, None)
                again[run_id] = todo[run_id]
            else:
                self.applied += 1
                self.applied_own += len(todo[run_id])
                if new.terminal:
                    self._cache.pop(run_id, None)
                else:
                    self._remember(run_id, new, result)
        return again

    async def _apply_events(
        self, state: RunState, pending: list[Pending], failed: dict[str, str]
    ) -> tuple[RunState, list[Command]]:
        try:
            graph = await self.service.specs.graph(state.workflow_id, state.workflow_version)
        except DagqError as exc:
            for p in pending:
                failed[p.entry_id] = f"cannot load the run's workflow: {exc.message}"
            return state, []
        events = [p.event for p in pending]
        with contextlib.suppress(Exception):  # an event raised: one by one, to tell which
            new, commands = transitions.apply_all(graph, state, events, self.service.config)
            for p in pending:
                failed.pop(p.entry_id, None)
            return new, commands
        commands = []
        current = state
        for p in pending:
            try:
                current, cmds = transitions.apply_all(
                    graph, current, [p.event], self.service.config
                )
            except DagqError as exc:  # refused (e.g. a cancel of a finished run): moot
                log.warning("run %s: %s ignored: %s", state.run_id, type(p.event).__name__, exc)
                continue
            except Exception as exc:  # a bug must not wedge the inbox, nor drop a result
                log.exception("run %s: applying %r failed", state.run_id, p.event)
                failed[p.entry_id] = f"applying {type(p.event).__name__} failed: {exc!r}"
                continue
            failed.pop(p.entry_id, None)
            commands.extend(cmds)
        return current, commands

    async def _hold(
        self, run_ids: Collection[str]
    ) -> tuple[dict[str, tuple[RunState, int]], set[str]]:
        """Each run's state and version for one batch: cached, else loaded (and cached);
        and the runs loaded.  Runs Redis does not have are left out.

        The batch keeps its own references: the cache is bounded and shared by this
        process's loops, so loading the batch's misses (or another loop meanwhile) can
        evict runs of the batch itself.  Reading them back from the cache then failed,
        with more active runs than cache slots (10,000 against 4,096 in ``dagq bench
        sweep``), and ended the inbox reader.
        """
        held = {r: self._cache[r] for r in run_ids if r in self._cache}
        missing = [r for r in run_ids if r not in held]
        if missing:
            for run_id, (state, version) in (await self.service.runs.load_many(missing)).items():
                held[run_id] = (state, version)
                self._remember(run_id, state, version)
        return held, set(missing)

    def _remember(self, run_id: str, state: RunState, version: int) -> None:
        self._cache[run_id] = (state, version)
        self._cache.move_to_end(run_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def stats(self) -> dict[str, Any]:
        """Counters for metrics."""
        return {
            "applied": self.applied,
            "applied_own": self.applied_own,
            "cached_runs": len(self._cache),
        }
