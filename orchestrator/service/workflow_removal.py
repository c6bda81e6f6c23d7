"""Deleting a workflow, and what depends on it: active runs, schedules, webhooks.

A workflow that still has any of them is not deleted: :func:`remove_workflow` raises a
:class:`Conflict` listing them (409 from the API, one error line from ``dagq workflows rm``,
a second question in the TUI).  With ``force`` they go with it, in an order that leaves no
window for a new run: the schedules and webhooks first (nothing starts a run of it any
more), then the active runs are cancelled, then the workflow itself.  Left behind, a
schedule would fire into a missing workflow at each fire time, and a webhook would answer
every delivery with an error.  The caller audits each removal (``removed``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import Conflict, NotFound
from orchestrator.service.hooks import HookService
from orchestrator.service.runs import RunService
from orchestrator.service.schedules import ScheduleService
from orchestrator.store.queue_admin import as_str

LISTED = 100
"""At most this many ids of each kind in a refusal's details."""


@dataclass(frozen=True, slots=True)
class Dependants:
    """What still refers to a workflow."""

    active_runs: list[str] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.active_runs or self.schedules or self.hooks)

    def describe(self) -> str:
        """``2 active runs, 1 schedule (nightly) and 1 webhook (hk12…)``."""
        parts = []
        if self.active_runs:
            parts.append(_count(len(self.active_runs), "active run"))
        if self.schedules:
            parts.append(f"{_count(len(self.schedules), 'schedule')} ({_ids(self.schedules)})")
        if self.hooks:
            parts.append(f"{_count(len(self.hooks), 'webhook')} ({_ids(self.hooks)})")
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

    def details(self) -> dict[str, Any]:
        """The refusal's ``details`` (each list cut at :data:`LISTED`)."""
        return {
            "activeRuns": self.active_runs[:LISTED],
            "schedules": self.schedules[:LISTED],
            "hooks": self.hooks[:LISTED],
        }


Removed = Callable[[str, str], Awaitable[None]]
"""Called after each schedule or webhook removed with a workflow: (kind, id)."""


async def active_runs_of(service: RunService, workflow_id: str) -> list[str]:
    """Ids of the workflow's active runs (its run index intersected with each active set)."""
    keys = service.keys
    out: list[str] = []
    for shard in keys.all_shards():
        ids: list[Any] = await service.redis.zinter(
            [keys.runs_of(shard, workflow_id), keys.active(shard)]
        )
        out += [as_str(i) for i in ids]
    return out


async def dependants_of(service: RunService, workflow_id: str) -> Dependants:
    """The workflow's active runs, schedules and webhooks."""
    schedules = await ScheduleService(service).store.all()
    hooks = await HookService(service).all()
    return Dependants(
        active_runs=await active_runs_of(service, workflow_id),
        schedules=[s.spec.id for s in schedules if s.spec.workflow_id == workflow_id],
        hooks=[h.id for h in hooks if h.workflow_id == workflow_id],
    )


async def remove_workflow(
    service: RunService,
    workflow_id: str,
    *,
    force: bool,
    user: str | None = None,
    removed: Removed | None = None,
) -> Dependants:
    """Delete a workflow; with ``force`` also what depends on it (what went, returned).

    ``NotFound`` when there is no such workflow; ``Conflict`` listing its dependants when
    it has any and ``force`` is not given.
    """
    if not await service.workflows.exists(workflow_id):
        raise NotFound(f"workflow '{workflow_id}' not found", details={"workflowId": workflow_id})
    found = await dependants_of(service, workflow_id)
    if found and not force:
        raise Conflict(
            f"workflow '{workflow_id}' has {found.describe()}; delete with force "
            "(?force=true, --force) to cancel its runs and remove its schedules and webhooks "
            "with it",
            details={"workflowId": workflow_id, **found.details()},
        )
    schedules, hooks = ScheduleService(service), HookService(service)
    for schedule_id in found.schedules:
        with contextlib.suppress(NotFound):  # removed meanwhile: nothing left to do
            await schedules.delete(schedule_id)
            if removed is not None:
                await removed("schedule", schedule_id)
    for hook_id in found.hooks:
        with contextlib.suppress(NotFound):
            await hooks.delete(hook_id)
            if removed is not None:
                await removed("hook", hook_id)
    for run_id in found.active_runs:
        # A run that ended (or expired) meanwhile has nothing left to cancel.
        with contextlib.suppress(Conflict, NotFound):
            await service.cancel(run_id, reason=f"workflow deleted by {user or 'an unknown user'}")
    await service.workflows.delete(workflow_id)
    return found


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _ids(ids: list[str], shown: int = 5) -> str:
    more = len(ids) - shown
    return ", ".join(ids[:shown]) + (f" and {more} more" if more > 0 else "")
