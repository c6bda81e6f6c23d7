"""The scheduler loop: fires due schedules, in every orchestrator process, exactly once.

Each pass records a tick (a pass after more than ``triggers.outage_after`` without any
marks an *outage*: fires that fell due in it follow their schedule's ``catchup``), then
takes the lease of each due schedule it can, starts its due fires and advances it (see
:mod:`orchestrator.store.schedules`).  A fire's run is started with the idempotency key
``schedule:<id>:<fire time>``: two processes, or one that retries after a crash, get
the same run.  The ``overlap`` policy is judged against the schedule's last run.
Backfills are driven by the same loop (:mod:`orchestrator.service.backfill`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.exceptions import RedisError

from orchestrator.engine.fires import Outage, Plan, due_ms, iso_ms, plan
from orchestrator.errors import DagqError, Forbidden
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
        if buffered is not None and not await self._active(last_run):
            last_run = (
                await self._start(spec, buffered, outcomes, stored.owner, buffered=True) or last_run
            )
            buffered = None
        p = plan(spec, first, now, outage) if first is not None else Plan([], [], 0, None)
        outcomes += _missed(p, now)
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
                last_run = started or last_run
        nxt = p.next_ms if first is not None else None
        due = None if nxt is None else due_ms(spec, nxt)
        if buffered is not None:
            due = min(due or now + _BUFFER_POLL_MS, now + _BUFFER_POLL_MS)
        fields = {"next": nxt, "last_run": last_run, "buffered": buffered}
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

    async def _start(
        self,
        spec: ScheduleSpec,
        fire: int,
        outcomes: list[dict[str, Any]],
        owner: str | None,
        **extra: Any,
    ) -> str | None:
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
