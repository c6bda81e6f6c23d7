"""The worker's last check before an attempt: may the run's starter still execute the handler?

A run records who it runs as (``Job.run_as``: the API's user, a schedule's or webhook's
owner). The policy may have been narrowed since the run started; asking again before
each attempt makes the narrowing take effect at the run's next node. A refused attempt
fails for good (no retry would be allowed either) and the refusal is audited.
"""

from __future__ import annotations

import contextlib
import logging

import redis.asyncio as aioredis

from orchestrator.errors import DagqError
from orchestrator.keys import Keys
from orchestrator.protocol import Job
from orchestrator.security.audit import AuditLog
from orchestrator.security.handler_gate import HandlerGate, PublishedGate, permission
from orchestrator.settings import Settings
from orchestrator.vocab import AuditOutcome

log = logging.getLogger("dagq.worker")


class PermissionCheck:
    """Asks the published policy before each attempt of a run that records its starter."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        settings: Settings,
        worker_id: str,
        gate: HandlerGate | None = None,
    ) -> None:
        self.gate: HandlerGate = gate if gate is not None else PublishedGate(redis, keys)
        self.audit = AuditLog(redis, keys, path=None, source="worker")
        self.audited = settings.workflow.security.audit_logging
        self.worker_id = worker_id

    async def revoked(self, job: Job) -> str | None:
        """Why ``job`` may not run (and the refusal audited), or None when it may."""
        if not job.run_as or not await self.gate.refused(job.run_as, [job.handler]):
            return None
        why = (
            f"permission revoked: {job.run_as} may no longer execute handler {job.handler!r} "
            f"(needs {permission(job.handler)})"
        )
        log.warning("%s/%s attempt %d refused: %s", job.run, job.node, job.attempt, why)
        if self.audited:
            with contextlib.suppress(DagqError):  # the sink's trouble is logged by it
                await self.audit.record(
                    user=job.run_as,
                    role=None,
                    action="runHandler",
                    resource=f"run {job.run} node {job.node} handler {job.handler}",
                    outcome=AuditOutcome.DENIED,
                    request_id=f"{job.run}:{job.node}:{job.token}",
                    status=403,
                    detail=f"{why}; worker {self.worker_id}",
                )
        return why
