"""The scheduler loop: fires due schedules, in every orchestrator process, exactly once.

Each pass records a tick (a pass after more than ``triggers.outage_after`` without any
marks an *outage*: fires that fell due in it follow their schedule's ``catchup``), then
takes the lease of each due schedule it can, starts its due fires and advances it (see
:mod:`orchestrator.store.schedules`).  A fire's run is started with the idempotency key
``schedule:<id>:<fire time>``: two processes, or one that retries after a crash, get
the same run.  The ``overlap`` policy is judged against the schedule's last run.

A fire refused for room (``max_concurrent_runs``, a full queue) is not lost: it is *held*
(outcome ``deferred``) and retried with backoff until it starts, until the schedule's next
fire comes, or until its ``catchup_window`` has passed; then it is ``skipped_limit`` with
the limit as its reason.  With ``catchup: none`` it is skipped at once, as a late fire
would be.  One fire is held at a time: a newer refused fire takes its place.
Backfills are driven by the same loop (:mod:`orchestrator.service.backfill`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from orchestrator.engine.fires import Outage, Plan, due_ms, iso_ms, plan
from orchestrator.errors import DagqError, Forbidden, LimitExceeded, QueueFull
from orchestrator.security.audit import AuditLog
from orchestrator.service.backfill import BackfillDriver
from orchestrator.service.idempotent import start_once
from orchestrator.service.runs import RunService, now_ms
from orchestrator.service.schedules import fire_key, is_active, run_metadata
from orchestrator.spec.schedule import FireOutcome, ScheduleSpec
from orchestrator.store.idempotency import IdempotencyStore
from orchestrator.store.schedules import ScheduleStore, Stored
from orchestrator.vocab import AuditOutcome

log = logging.getLogger("dagq.scheduler")
_MAX_SLEEP_S = 0.5
_BUFFER_POLL_MS = 1000
_RETRY_FIRST_MS, _RETRY_MAX_MS = 1000, 60_000
"""Backoff of a held fire: 1 s, doubling, at most a minute between tries."""


class _NoRoom:
    """What :meth:`Scheduler._start` returns when the run was refused for room."""

    def __init__(self, exc: LimitExceeded) -> None:
        self.reason = "queue full" if isinstance(exc, QueueFull) else "max concurrent runs"
        self.error = exc.message


@dataclass(slots=True)
class _Held:
    """The fire waiting for room: its time, why, the tries so far, when to try again."""

    fire: int
    reason: str
    tries: int
    retry_at: int

    @classmethod
    def of(cls, stored: Stored) -> _Held | None:
        """The schedule's held fire, if it has one."""
        fire = stored.ms("held")
        if fire is None:
            return None
        reason = stored.state.get("held_reason") or "max concurrent runs"
        return cls(fire, reason, stored.ms("held_tries") or 1, stored.ms("held_retry") or 0)

    def fields(self) -> dict[str, Any]:
        """Its state fields."""
        return {
            "held": self.fire,
            "held_reason": self.reason,
            "held_tries": self.tries,
            "held_retry": self.retry_at,
        }

    def again(self, now: int) -> None:
        """One more refusal: back off (doubling, up to a minute)."""
        self.tries += 1
        self.retry_at = now + min(_RETRY_MAX_MS, _RETRY_FIRST_MS << min(self.tries - 1, 16))


_NOT_HELD = dict.fromkeys(("held", "held_reason", "held_tries", "held_retry"))


class Scheduler:
    """One process's scheduler loop."""

    def __init__(self, service: RunService) -> None:
        self.service = service
        self.store = ScheduleStore(service.redis, service.keys)
        self.idem = IdempotencyStore(service.redis, service.keys)
        self.backfills = BackfillDriver(service)
        self.outage_after_ms = int(service.settings.triggers.outage_after * 1000)
        self.fired = 0
        self.audit = AuditLog(service.redis, service.keys, path=None, source="scheduler")

    async def run(self, stop: asyncio.Event) -> None:
        """Pass after pass until ``stop`` is set."""
        while not stop.is_set():
            wait_s = _MAX_SLEEP_S
            try:
                wait_s = await self.pass_once()
            except (RedisError, OSError) as exc:
                if stop.is_set():
                    return
                log.warning("scheduler pass failed, retrying: %s", exc)
            except Exception:  # a bug must not stop every schedule: log it, go on
                log.exception("scheduler pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait_s)

    async def pass_once(self) -> float:
        """One pass; the seconds until the next one is useful."""
        now = now_ms()
        outage = await self.store.tick(self.outage_after_ms)
        for schedule_id in await self.store.due(now):
            token = await self.store.lease(schedule_id)
            if token is None:
                continue  # another process is on it
            try:
                stored = await self.store.get(schedule_id)
                if stored.paused:  # paused after this pass read the due set
                    await self.store.release(schedule_id, token)
                    continue
                await self.process(stored, token, now_ms(), outage)
            except DagqError as exc:
                log.warning("schedule %s: %s", schedule_id, exc)
                await self.store.release(schedule_id, token)
            except BaseException:
                await asyncio.shield(self.store.release(schedule_id, token))
                raise
        await self.backfills.pass_once()
        earliest = await self.store.earliest()
        if earliest is None:
            return _MAX_SLEEP_S
        return min(_MAX_SLEEP_S, max(0.005, (earliest - now_ms()) / 1000))

    async def process(self, stored: Stored, token: str, now: int, outage: Outage | None) -> None:
        """Start (or skip, buffer, miss) a schedule's due fires and advance it."""
        spec = stored.spec
        first = stored.ms("next")
        outcomes: list[dict[str, Any]] = []
        last_run = stored.state.get("last_run") or None
        buffered = stored.ms("buffered")
        held = _Held.of(stored)
        if buffered is not None and not await self._active(last_run):
            started = await self._start(spec, buffered, outcomes, stored.owner, buffered=True)
            if isinstance(started, _NoRoom):
                held = self._hold(spec, buffered, started, held, outcomes, now)
            last_run = _run_id(started) or last_run
            buffered = None
        p = plan(spec, first, now, outage) if first is not None else Plan([], [], 0, None)
        outcomes += _missed(p, now)
        if held is not None:
            held, started = await self._retry(spec, held, bool(p.run), outcomes, stored.owner, now)
            last_run = started or last_run
        for fire in p.run:
            prior = await self.idem.get(fire_key(spec.id, fire))
            if prior is not None:  # started before a crash: record it, decide nothing again
                outcomes.append(_outcome(fire, FireOutcome.STARTED, now, runId=prior.run_id))
                last_run = prior.run_id
                continue
            active = await self._active(last_run)
            if active and spec.overlap == "skip":
                outcomes.append(
                    _outcome(fire, FireOutcome.SKIPPED_OVERLAP, now, activeRunId=last_run)
                )
            elif active and spec.overlap == "buffer_one":
                if buffered is None:
                    buffered = fire
                    outcomes.append(_outcome(fire, FireOutcome.BUFFERED, now, activeRunId=last_run))
                else:
                    outcomes.append(
                        _outcome(fire, FireOutcome.SKIPPED_OVERLAP, now, activeRunId=last_run)
                    )
            else:
                cancelled = None
                if active and spec.overlap == "cancel_previous" and last_run:
                    cancelled = await self._cancel(last_run, spec.id)
                started = await self._start(
                    spec, fire, outcomes, stored.owner, cancelledRunId=cancelled
                )
                if isinstance(started, _NoRoom):
                    held = self._hold(spec, fire, started, held, outcomes, now)
                last_run = _run_id(started) or last_run
        nxt = p.next_ms if first is not None else None
        due = None if nxt is None else due_ms(spec, nxt)
        if buffered is not None:
            due = min(due or now + _BUFFER_POLL_MS, now + _BUFFER_POLL_MS)
        if held is not None:
            due = min(due or held.retry_at, held.retry_at)
        fields: dict[str, Any] = {"next": nxt, "last_run": last_run, "buffered": buffered}
        fields |= held.fields() if held else _NOT_HELD
        if p.run:
            fields["last_fire"] = p.run[-1]
        await self.store.advance(spec.id, token, fields, due=due, outcomes=outcomes, release=True)

    async def _active(self, run_id: str | None) -> bool:
        if not run_id:
            return False
        metas = await self.service.runs.load_meta_many([run_id])
        return is_active(metas.get(run_id))

    async def _cancel(self, run_id: str, schedule_id: str) -> str | None:
        try:
            await self.service.cancel(run_id, reason=f"cancelled by schedule {schedule_id}")
        except DagqError as exc:  # it ended meanwhile
            log.info("schedule %s: previous run %s not cancelled: %s", schedule_id, run_id, exc)
            return None
        return run_id

    async def _retry(
        self,
        spec: ScheduleSpec,
        held: _Held,
        newer: bool,
        outcomes: list[dict[str, Any]],
        owner: str | None,
        now: int,
    ) -> tuple[_Held | None, str | None]:
        """Try the held fire again when its backoff is over, or give it up when a ``newer``
        fire is due or its catch-up window has passed: (still held, the run it started)."""
        if newer or now > held.fire + spec.catchup_window * 1000:
            outcomes.append(_gave_up(held, now))
            return None, None
        if now < held.retry_at:
            return held, None
        started = await self._start(spec, held.fire, outcomes, owner, tries=held.tries + 1)
        if isinstance(started, _NoRoom):
            held.again(now)
            return held, None
        return None, started

    def _hold(
        self,
        spec: ScheduleSpec,
        fire: int,
        refused: _NoRoom,
        held: _Held | None,
        outcomes: list[dict[str, Any]],
        now: int,
    ) -> _Held | None:
        """Hold a fire refused for room (the one held before gives way); None when the
        schedule's ``catchup: none`` skips it at once."""
        if held is not None:
            outcomes.append(_gave_up(held, now))
        log.info("schedule %s: fire %s waits: %s", spec.id, iso_ms(fire), refused.error)
        if spec.catchup == "none":
            outcomes.append(_outcome(fire, FireOutcome.SKIPPED_LIMIT, now, reason=refused.reason,
                                     error=refused.error, tries=1))  # fmt: skip
            return None
        new = _Held(fire, refused.reason, 1, now + _RETRY_FIRST_MS)
        outcomes.append(_outcome(fire, FireOutcome.DEFERRED, now, reason=refused.reason,
                                 error=refused.error, retryAt=iso_ms(new.retry_at)))  # fmt: skip
        return new

    async def _start(
        self,
        spec: ScheduleSpec,
        fire: int,
        outcomes: list[dict[str, Any]],
        owner: str | None,
        **extra: Any,
    ) -> str | _NoRoom | None:
        """Start the fire's run: its id; ``_NoRoom`` when refused for room (nothing is
        recorded: the caller holds the fire or tries it again later); None when it failed
        (recorded)."""
        now = now_ms()
        info = {k: v for k, v in extra.items() if v is not None}
        try:
            started = await start_once(
                self.service,
                spec.workflow_id,
                spec.params,
                key=fire_key(spec.id, fire),
                version=spec.version,
                user=f"schedule:{spec.id}",
                metadata=run_metadata(spec.id, fire),
                run_as=owner,
            )
        except LimitExceeded as exc:  # no room now: held and retried, never lost
            return _NoRoom(exc)
        except Forbidden as exc:  # the owner may no longer execute a handler: on record
            await self._refused(spec, fire, owner, exc)
            outcomes.append(_outcome(fire, FireOutcome.FAILED, now, error=exc.message, **info))
            return None
        except DagqError as exc:
            log.warning("schedule %s: fire %s not started: %s", spec.id, iso_ms(fire), exc)
            outcomes.append(_outcome(fire, FireOutcome.FAILED, now, error=exc.message, **info))
            return None
        self.fired += int(started.created)
        run_id = started.state.run_id
        outcomes.append(_outcome(fire, FireOutcome.STARTED, now, runId=run_id, **info))
        return run_id

    async def _refused(
        self, spec: ScheduleSpec, fire: int, owner: str | None, exc: Forbidden
    ) -> None:
        log.warning("schedule %s: fire %s refused: %s", spec.id, iso_ms(fire), exc.message)
        if not self.service.settings.workflow.security.audit_logging:
            return
        with contextlib.suppress(DagqError):  # the sink's trouble is logged by it
            await self.audit.record(
                user=owner,
                role=None,
                action="fireSchedule",
                resource=f"schedule {spec.id}",
                outcome=AuditOutcome.DENIED,
                request_id=fire_key(spec.id, fire),
                status=403,
                detail=exc.message,
            )


def _outcome(fire: int, status: FireOutcome, at: int, **extra: Any) -> dict[str, Any]:
    return {"fire": iso_ms(fire), "status": status, "at": at, **extra}


def _gave_up(held: _Held, now: int) -> dict[str, Any]:
    """The outcome of a held fire whose time is over."""
    return _outcome(held.fire, FireOutcome.SKIPPED_LIMIT, now, reason=held.reason,
                    tries=held.tries)  # fmt: skip


def _run_id(started: str | _NoRoom | None) -> str | None:
    return started if isinstance(started, str) else None


def _missed(p: Plan, now: int) -> list[dict[str, Any]]:
    """Missed fires as outcomes: one each, or one summary when there are many."""
    count = len(p.missed) + p.missed_more
    if count == 0:
        return []
    if count <= 5 and not p.missed_more:
        return [_outcome(f, FireOutcome.MISSED, now) for f in p.missed]
    last = p.missed[-1] if p.missed else None
    summary = _outcome(last or now, FireOutcome.MISSED, now, count=count)
    if p.missed:
        summary["firstFire"] = iso_ms(p.missed[0])
    return [summary]
