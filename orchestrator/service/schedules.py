"""Schedules as clients see them: create, change, pause, resume, trigger, delete, views.

The firing itself is :mod:`orchestrator.service.scheduler`'s (inside every orchestrator
process); this module only writes definitions and reads state.  Each fire's run records
``scheduleId`` and ``scheduledTime`` in its metadata (``ctx.logical_time`` for handlers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from orchestrator.engine.fires import due_ms, iso_ms, next_fire, next_fires
from orchestrator.errors import BadRequest, DagqError, NotFound
from orchestrator.security.handler_gate import require
from orchestrator.service.idempotent import start_once
from orchestrator.service.runs import RunService, handlers_of, now_ms
from orchestrator.spec.schedule import FireOutcome, ScheduleSpec
from orchestrator.store.schedules import ScheduleStore, Stored
from orchestrator.vocab import TERMINAL_RUN

MAX_NOTE = 1024


def parse_spec(data: Mapping[str, Any]) -> ScheduleSpec:
    """A spec from JSON; :class:`BadRequest` naming every problem."""
    try:
        return ScheduleSpec.model_validate(dict(data))
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'schedule'}: {e['msg']}" for e in exc.errors()
        ]
        raise BadRequest(
            "invalid schedule: " + "; ".join(problems), details={"errors": problems}
        ) from None


def run_metadata(schedule_id: str, fire_ms: int, **extra: Any) -> dict[str, Any]:
    """What a scheduled run records about its fire."""
    return {"scheduleId": schedule_id, "scheduledTime": iso_ms(fire_ms), **extra}


def fire_key(schedule_id: str, fire_ms: int) -> str:
    """The idempotency key of one fire: ``schedule:<id>:<fire time>``."""
    return f"schedule:{schedule_id}:{iso_ms(fire_ms)}"


class ScheduleService:
    """Schedules over one Redis."""

    def __init__(self, runs: RunService) -> None:
        self.runs = runs
        self.store = ScheduleStore(runs.redis, runs.keys)

    async def _check_target(self, spec: ScheduleSpec) -> None:
        record = await self.runs.workflows.get(spec.workflow_id)  # NotFound when missing
        if spec.version is not None and spec.version > (record.spec.version or 1):
            raise NotFound(
                f"workflow {spec.workflow_id!r} has no version {spec.version}",
                details={"workflowId": spec.workflow_id, "version": spec.version},
            )

    async def save(
        self, spec: ScheduleSpec, *, create: bool, user: str | None = None
    ) -> dict[str, Any]:
        """Create (Conflict if it exists) or replace a schedule; fires are counted from now.

        ``user`` becomes its owner: its fires start runs with the owner's handler
        permissions, so an owner who may not execute a handler of the workflow is refused.
        """
        await self._check_target(spec)
        if user:
            record = await self.runs.workflows.get(spec.workflow_id)
            version = spec.version or record.spec.version or 1
            graph = await self.runs.specs.graph(spec.workflow_id, version)
            what = f"schedule workflow {spec.workflow_id!r}"
            await require(self.runs.gate, user, handlers_of(graph), what)
        nxt = next_fire(spec, now_ms())
        due = None if nxt is None else due_ms(spec, nxt)
        await self.store.put(spec, nxt, due, create=create, owner=user)
        return await self.view(spec.id)

    async def save_many(self, specs: Sequence[ScheduleSpec]) -> list[str]:
        """Create or replace each (a workflow file's ``schedules:``); the ids saved."""
        for spec in specs:
            try:
                await self.store.get(spec.id)
                exists = True
            except NotFound:
                exists = False
            await self.save(spec, create=not exists)
        return [s.id for s in specs]

    async def delete(self, schedule_id: str) -> None:
        """Delete a schedule (its runs stay)."""
        if not await self.store.delete(schedule_id):
            raise NotFound(f"no schedule {schedule_id!r}", details={"scheduleId": schedule_id})

    async def pause(self, schedule_id: str, note: str = "", user: str = "") -> dict[str, Any]:
        """Hold the schedule's fires (they are not caught up on resume)."""
        await self.store.get(schedule_id)
        fields = {"paused": "1", "note": note[:MAX_NOTE], "by": user, "at": now_ms()}
        await self.store.advance(schedule_id, None, fields, due=None)
        return await self.view(schedule_id)

    async def resume(self, schedule_id: str, note: str = "", user: str = "") -> dict[str, Any]:
        """Fire again from the next fire time after now."""
        stored = await self.store.get(schedule_id)
        nxt = next_fire(stored.spec, now_ms())
        fields = {"paused": None, "note": note[:MAX_NOTE], "by": user, "at": now_ms(), "next": nxt}
        due = None if nxt is None else due_ms(stored.spec, nxt)
        await self.store.advance(schedule_id, None, fields, due=due)
        return await self.view(schedule_id)

    async def trigger(self, schedule_id: str, user: str = "") -> dict[str, Any]:
        """Start a run now (whatever the overlap policy); the outcome is recorded."""
        spec = (await self.store.get(schedule_id)).spec
        at = now_ms()
        started = await start_once(
            self.runs,
            spec.workflow_id,
            spec.params,
            key=f"schedule:{spec.id}:trigger:{at}",
            version=spec.version,
            user=user or None,
            metadata=run_metadata(spec.id, at, triggered=True),
            run_as=user or None,
        )
        run_id = started.state.run_id
        outcome = {"fire": iso_ms(at), "status": FireOutcome.TRIGGERED, "runId": run_id, "at": at}
        await self.store.advance(
            schedule_id, None, {"last_run": run_id}, due=None, keep_due=True, outcomes=[outcome]
        )
        return await self.view(schedule_id)

    # -- reading -------------------------------------------------------------------------
    async def view(self, schedule_id: str) -> dict[str, Any]:
        """The schedule with its state, next 5 fires and last 20 outcomes."""
        return (await self._views([await self.store.get(schedule_id)], outcomes=True))[0]

    async def list_all(self, workflow_id: str | None = None) -> list[dict[str, Any]]:
        """Every schedule (of one workflow), each with its next fire and last outcome."""
        rows = [s for s in await self.store.all() if workflow_id in (None, s.spec.workflow_id)]
        return await self._views(rows, outcomes=False)

    async def _views(self, rows: list[Stored], *, outcomes: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for stored in rows:
            spec = stored.spec
            view = spec.to_api()
            view["paused"] = stored.paused
            if stored.state.get("note"):
                view["note"] = stored.state["note"]
            nxt = stored.ms("next")
            fires = [] if stored.paused or nxt is None else [nxt, *next_fires(spec, nxt, 4)]
            view["nextFireTime"] = iso_ms(fires[0]) if fires else None
            if outcomes:
                view["nextFires"] = [iso_ms(f) for f in fires]
            if stored.ms("buffered") is not None:
                view["bufferedFire"] = iso_ms(stored.ms("buffered") or 0)
            last = await self.store.outcomes(spec.id, 20 if outcomes else 1)
            await self._with_run_status(last)
            view["lastOutcome"] = last[0] if last else None
            if outcomes:
                view["outcomes"] = last
            view["ended"] = nxt is None and not stored.paused
            out.append(view)
        return out

    async def _with_run_status(self, outcomes: list[dict[str, Any]]) -> None:
        ids = [o["runId"] for o in outcomes if o.get("runId")]
        if not ids:
            return
        try:
            metas = await self.runs.runs.load_meta_many(ids)
        except DagqError:
            return
        for o in outcomes:
            meta = metas.get(o.get("runId") or "")
            if meta is not None:
                o["runStatus"] = meta["status"]


def is_active(meta: Mapping[str, Any] | None) -> bool:
    """Whether a run (by its meta) is still going."""
    return meta is not None and meta.get("status") not in TERMINAL_RUN
