"""The client's calls for schedules, backfills and webhooks (mixed into ``DagqClient``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.client.base import PREFIX, Calls, q
from orchestrator.wire.triggers import (
    BackfillView,
    Hook,
    HookList,
    HookSecret,
    ScheduleList,
    ScheduleView,
)


def _sc(schedule_id: str) -> str:
    return f"{PREFIX}/schedules/{q(schedule_id)}"


def _hook(hook_id: str) -> str:
    return f"{PREFIX}/hooks/{q(hook_id)}"


class TriggerCalls(Calls):
    """Schedules and hooks over the API."""

    # -- schedules -----------------------------------------------------------------------
    async def list_schedules(self, workflow_id: str | None = None) -> list[ScheduleView]:
        """Every schedule (of one workflow)."""
        params = {"workflowId": workflow_id}
        return (await self._as(ScheduleList, "GET", f"{PREFIX}/schedules", params=params)).schedules

    async def create_schedule(self, spec: Mapping[str, Any]) -> ScheduleView:
        """Create a schedule; Conflict when its id is taken."""
        return await self._as(ScheduleView, "POST", f"{PREFIX}/schedules", body=dict(spec))

    async def update_schedule(self, schedule_id: str, spec: Mapping[str, Any]) -> ScheduleView:
        """Replace a schedule."""
        return await self._as(ScheduleView, "PUT", _sc(schedule_id), body=dict(spec))

    async def get_schedule(self, schedule_id: str) -> ScheduleView:
        """A schedule with its next fires and last outcomes."""
        return await self._as(ScheduleView, "GET", _sc(schedule_id))

    async def delete_schedule(self, schedule_id: str) -> None:
        """Delete a schedule."""
        await self._call("DELETE", _sc(schedule_id))

    async def pause_schedule(self, schedule_id: str, note: str = "") -> ScheduleView:
        """Pause, with a note."""
        return await self._as(
            ScheduleView, "POST", f"{_sc(schedule_id)}/pause", body={"note": note}
        )

    async def resume_schedule(self, schedule_id: str, note: str = "") -> ScheduleView:
        """Resume from the next fire time."""
        return await self._as(
            ScheduleView, "POST", f"{_sc(schedule_id)}/resume", body={"note": note}
        )

    async def trigger_schedule(self, schedule_id: str) -> ScheduleView:
        """Start a run now."""
        return await self._as(ScheduleView, "POST", f"{_sc(schedule_id)}/trigger")

    async def start_backfill(
        self, schedule_id: str, start: str, end: str, max_parallel: int = 1
    ) -> BackfillView:
        """One run per fire time in ``[start, end]`` (ISO 8601)."""
        body = {"from": start, "to": end, "maxParallel": max_parallel}
        return await self._as(BackfillView, "POST", f"{_sc(schedule_id)}/backfill", body=body)

    async def get_backfill(self, schedule_id: str) -> BackfillView:
        """The schedule's backfill."""
        return await self._as(BackfillView, "GET", f"{_sc(schedule_id)}/backfill")

    # -- hooks ---------------------------------------------------------------------------
    async def list_hooks(self) -> list[Hook]:
        """Every webhook."""
        return (await self._as(HookList, "GET", f"{PREFIX}/hooks")).hooks

    async def create_hook(
        self,
        workflow_id: str,
        mapping: Mapping[str, str] | None = None,
        *,
        version: int | None = None,
        description: str = "",
    ) -> HookSecret:
        """A new webhook with its secret (shown this once)."""
        body: dict[str, Any] = {"workflowId": workflow_id, "map": dict(mapping or {})}
        if version is not None:
            body["version"] = version
        if description:
            body["description"] = description
        return await self._as(HookSecret, "POST", f"{PREFIX}/hooks", body=body)

    async def delete_hook(self, hook_id: str) -> None:
        """Delete a webhook."""
        await self._call("DELETE", _hook(hook_id))

    async def rotate_hook(self, hook_id: str) -> HookSecret:
        """A new secret for a webhook (the old one stops working)."""
        return await self._as(HookSecret, "POST", f"{_hook(hook_id)}/rotate")
