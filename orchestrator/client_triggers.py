"""The client's calls for schedules, backfills and webhooks (mixed into ``DagqClient``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

PREFIX = "/api/v1"


def _sc(schedule_id: str) -> str:
    return f"{PREFIX}/schedules/{quote(schedule_id, safe='')}"


class TriggerCalls:
    """Schedules and hooks over the API; ``_obj``/``_call`` come from ``DagqClient``."""

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        raise NotImplementedError

    async def _obj(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    # -- schedules -----------------------------------------------------------------------
    async def list_schedules(self, workflow_id: str | None = None) -> list[dict[str, Any]]:
        """Every schedule (of one workflow)."""
        data = await self._obj("GET", f"{PREFIX}/schedules", params={"workflowId": workflow_id})
        rows: list[dict[str, Any]] = data["schedules"]
        return rows

    async def create_schedule(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create a schedule; Conflict when its id is taken."""
        return await self._obj("POST", f"{PREFIX}/schedules", body=dict(spec))

    async def update_schedule(self, schedule_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a schedule."""
        return await self._obj("PUT", _sc(schedule_id), body=dict(spec))

    async def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        """A schedule with its next fires and last outcomes."""
        return await self._obj("GET", _sc(schedule_id))

    async def delete_schedule(self, schedule_id: str) -> None:
        """Delete a schedule."""
        await self._call("DELETE", _sc(schedule_id))

    async def pause_schedule(self, schedule_id: str, note: str = "") -> dict[str, Any]:
        """Pause, with a note."""
        return await self._obj("POST", f"{_sc(schedule_id)}/pause", body={"note": note})

    async def resume_schedule(self, schedule_id: str, note: str = "") -> dict[str, Any]:
        """Resume from the next fire time."""
        return await self._obj("POST", f"{_sc(schedule_id)}/resume", body={"note": note})

    async def trigger_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Start a run now."""
        return await self._obj("POST", f"{_sc(schedule_id)}/trigger")

    async def start_backfill(
        self, schedule_id: str, start: str, end: str, max_parallel: int = 1
    ) -> dict[str, Any]:
        """One run per fire time in ``[start, end]`` (ISO 8601)."""
        body = {"from": start, "to": end, "maxParallel": max_parallel}
        return await self._obj("POST", f"{_sc(schedule_id)}/backfill", body=body)

    async def get_backfill(self, schedule_id: str) -> dict[str, Any]:
        """The schedule's backfill."""
        return await self._obj("GET", f"{_sc(schedule_id)}/backfill")

    # -- hooks ---------------------------------------------------------------------------
    async def list_hooks(self) -> list[dict[str, Any]]:
        """Every webhook."""
        rows: list[dict[str, Any]] = (await self._obj("GET", f"{PREFIX}/hooks"))["hooks"]
        return rows

    async def create_hook(
        self,
        workflow_id: str,
        mapping: Mapping[str, str] | None = None,
        *,
        version: int | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """A new webhook with its secret (shown this once)."""
        body: dict[str, Any] = {"workflowId": workflow_id, "map": dict(mapping or {})}
        if version is not None:
            body["version"] = version
        if description:
            body["description"] = description
        return await self._obj("POST", f"{PREFIX}/hooks", body=body)

    async def delete_hook(self, hook_id: str) -> None:
        """Delete a webhook."""
        await self._call("DELETE", f"{PREFIX}/hooks/{quote(hook_id, safe='')}")

    async def rotate_hook(self, hook_id: str) -> dict[str, Any]:
        """A new secret for a webhook (the old one stops working)."""
        return await self._obj("POST", f"{PREFIX}/hooks/{quote(hook_id, safe='')}/rotate")
