"""Backfills: one run per fire time of a schedule in a past range, at most N at once.

A backfill is a durable object (``P{sched}:bf:<schedule id>``) driven by the scheduler
loop of every orchestrator process under a lease, so it goes on when the command that
asked for it ends and resumes after any process dies.  Each fire starts with the same
idempotency key a live fire would have (``schedule:<id>:<fire time>``): a fire the
schedule already ran, or a second backfill over the same range, starts nothing new.
The run's ``scheduledTime`` (``ctx.logical_time``) is its fire time.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from orchestrator.engine.fires import fires_between, iso_ms, next_fire
from orchestrator.errors import BadRequest, Conflict, DagqError, LimitExceeded, NotFound
from orchestrator.scripts import Script
from orchestrator.service.idempotent import start_once
from orchestrator.service.runs import RunService, now_ms
from orchestrator.service.schedules import fire_key, is_active, run_metadata
from orchestrator.spec.schedule import BackfillState
from orchestrator.store.schedules import ScheduleStore

log = logging.getLogger("dagq.backfill")
MAX_FIRES = 10_000

# KEYS: 1 backfill hash, 2 lease, 3 backfills set.  ARGV: 1 token, 2 id, 3 JSON fields, 4 done
_WRITE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) return 0 end
for name, value in pairs(cjson.decode(ARGV[3])) do redis.call('HSET', KEYS[1], name, value) end
if ARGV[4] == '1' then redis.call('SREM', KEYS[3], ARGV[2]) end
redis.call('DEL', KEYS[2])
return 1
"""


class BackfillDriver:
    """Create, read and advance backfills."""

    def __init__(self, service: RunService) -> None:
        self.service = service
        self.keys = service.keys
        self.redis = service.redis
        self.store = ScheduleStore(service.redis, service.keys)
        self._write = Script(service.redis, _WRITE, "backfill.write")

    async def create(
        self, schedule_id: str, from_ms: int, to_ms: int, max_parallel: int, user: str = ""
    ) -> dict[str, Any]:
        """Start a backfill (Conflict while another of this schedule is under way)."""
        spec = (await self.store.get(schedule_id)).spec
        if to_ms < from_ms:
            raise BadRequest("the backfill's end is before its start")
        if to_ms > now_ms():
            raise BadRequest("a backfill covers past fire times only: end it at or before now")
        count = 0
        for _ in fires_between(spec, from_ms - 1, to_ms):
            count += 1
            if count > MAX_FIRES:
                raise BadRequest(f"the range holds more than {MAX_FIRES} fire times: split it")
        current = await self.get_raw(schedule_id)
        if current is not None and current.get("state") == BackfillState.RUNNING:
            raise Conflict(
                f"schedule {schedule_id!r} has a backfill under way",
                details={"scheduleId": schedule_id},
            )
        fields = {
            "from": from_ms,
            "to": to_ms,
            "max": max_parallel,
            "total": count,
            "cursor": from_ms - 1,
            "started": 0,
            "created": 0,
            "active": "[]",
            "state": BackfillState.RUNNING if count else BackfillState.DONE,
            "by": user,
            "at": now_ms(),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.backfill(schedule_id))
            pipe.hset(self.keys.backfill(schedule_id), mapping=fields)  # type: ignore[arg-type]
            if count:
                pipe.sadd(self.keys.backfills(), schedule_id)
            await pipe.execute()
        return await self.view(schedule_id)

    async def get_raw(self, schedule_id: str) -> dict[str, str] | None:
        """The backfill's hash, decoded (None when there is none)."""
        raw: Any = await self.redis.hgetall(self.keys.backfill(schedule_id))
        return {k.decode(): v.decode() for k, v in raw.items()} if raw else None

    async def view(self, schedule_id: str) -> dict[str, Any]:
        """The backfill as the API shows it; NotFound when the schedule has none."""
        raw = await self.get_raw(schedule_id)
        if raw is None:
            raise NotFound(
                f"schedule {schedule_id!r} has no backfill", details={"scheduleId": schedule_id}
            )
        return {
            "scheduleId": schedule_id,
            "from": iso_ms(int(raw["from"])),
            "to": iso_ms(int(raw["to"])),
            "maxParallel": int(raw["max"]),
            "total": int(raw["total"]),
            "started": int(raw["started"]),
            "created": int(raw["created"]),
            "active": orjson.loads(raw["active"]),
            "state": raw["state"],
            "requestedBy": raw.get("by") or None,
            "error": raw.get("error") or None,
            "waitingFor": raw.get("wait") or None,
        }

    async def pass_once(self) -> None:
        """Advance every backfill this process can take the lease of."""
        members: Any = await self.redis.smembers(self.keys.backfills())
        for raw_id in sorted(members):
            schedule_id = raw_id.decode()
            lease = f"bf-{schedule_id}"
            token = await self.store.lease(lease)
            if token is None:
                continue
            try:
                await self._advance(schedule_id, token)
            except DagqError as exc:
                log.warning("backfill of %s: %s", schedule_id, exc)
                await self.redis.delete(self.keys.schedule_lease(lease))

    async def _advance(self, schedule_id: str, token: str) -> None:
        raw = await self.get_raw(schedule_id)
        lease_key = self.keys.schedule_lease(f"bf-{schedule_id}")
        if raw is None or raw["state"] != BackfillState.RUNNING:
            await self.redis.srem(self.keys.backfills(), schedule_id)
            await self.redis.delete(lease_key)
            return
        spec = (await self.store.get(schedule_id)).spec
        active: list[str] = orjson.loads(raw["active"])
        metas = await self.service.runs.load_meta_many(active) if active else {}
        active = [r for r in active if is_active(metas.get(r))]
        cursor, to_ms = int(raw["cursor"]), int(raw["to"])
        started, created = int(raw["started"]), int(raw["created"])
        fire = next_fire(spec, cursor)
        error = waiting = ""
        while fire is not None and fire <= to_ms and len(active) < int(raw["max"]):
            try:
                result = await start_once(
                    self.service,
                    spec.workflow_id,
                    spec.params,
                    key=fire_key(spec.id, fire),
                    version=spec.version,
                    user=raw.get("by") or f"schedule:{spec.id}",
                    metadata=run_metadata(spec.id, fire, backfill=True),
                    run_as=raw.get("by") or None,
                )
            except LimitExceeded as exc:  # no room now (max_concurrent_runs): next pass
                log.info("backfill of %s waits: %s", schedule_id, exc.message)
                waiting = exc.message
                break
            except DagqError as exc:  # the workflow or its parameters are wrong: stop here
                error = f"fire {iso_ms(fire)}: {exc.message}"
                break
            started += 1
            created += int(result.created)
            if is_active({"status": result.state.status}):
                active.append(result.state.run_id)
            cursor = fire
            fire = next_fire(spec, fire)
        done = ((fire is None or fire > to_ms) and not active) or bool(error)
        fields = {
            "cursor": cursor,
            "started": started,
            "created": created,
            "active": orjson.dumps(active).decode(),
            "state": (
                BackfillState.FAILED
                if error
                else (BackfillState.DONE if done else BackfillState.RUNNING)
            ),
            "error": error,
            "wait": waiting,
        }
        await self._write(
            keys=[self.keys.backfill(schedule_id), lease_key, self.keys.backfills()],
            args=[token, schedule_id, orjson.dumps(fields), "1" if done else "0"],
        )
