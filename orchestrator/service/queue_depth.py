"""Queue depth limits (the design's ResourceLimits "queue depth"): a start is refused with
429 and Retry-After while the queues are too deep, instead of letting them grow without
bound.

- **Globally**, ``workflow.execution.max_queued_nodes`` bounds the jobs in all job streams
  (the backlog the Queues screen shows: waiting for a worker, or delivered and running).
- **Per workflow**, its ``config.max_queued_nodes`` bounds its active runs' nodes that are
  queued or running.

Both are measured at most once a second per process (the measure scans the streams, or
the workflow's active runs), so a burst of starts may overshoot a limit by what one second
of starts *other processes* add (this process counts its own starts into its cached
measure): a bound on growth, not an exact counter.
"""

from __future__ import annotations

import math
import time
from typing import cast

import redis.asyncio as aioredis

from orchestrator.errors import QueueFull
from orchestrator.keys import Keys
from orchestrator.settings import Settings
from orchestrator.spec.model import WorkflowSpec
from orchestrator.store.queue_admin import as_str
from orchestrator.store.runs import RunStore
from orchestrator.vocab import NodeStatus

_BUSY = (NodeStatus.QUEUED, NodeStatus.RUNNING)


class QueueDepth:
    """Measures the queues (cached for ``ttl_s``) and refuses starts past the limits."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, settings: Settings, runs: RunStore, *,
        ttl_s: float = 1.0,
    ) -> None:  # fmt: skip
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.runs = runs
        self.ttl_s = ttl_s
        self._total: tuple[float, int] | None = None
        self._per_workflow: dict[str, tuple[float, int]] = {}

    async def check(self, spec: WorkflowSpec) -> None:
        """:class:`QueueFull` when a run of ``spec`` may not start now."""
        execution = self.settings.execution
        retry_after = max(1, math.ceil(execution.queue_full_retry_after))
        limit = execution.max_queued_nodes
        if limit is not None:
            depth = await self.total()
            if depth >= limit:
                raise QueueFull(
                    f"the queues hold {depth} jobs, the limit is {limit} "
                    f"(execution.max_queued_nodes): retry in {retry_after}s",
                    details={"depth": depth, "limit": limit},
                    retry_after_s=retry_after,
                )
        own = spec.config.max_queued_nodes if spec.config is not None else None
        if own is not None:
            depth = await self.of_workflow(spec.id)
            if depth >= own:
                raise QueueFull(
                    f"workflow {spec.id!r} has {depth} nodes queued or running, its limit is "
                    f"{own} (config.max_queued_nodes): retry in {retry_after}s",
                    details={"depth": depth, "limit": own, "workflowId": spec.id},
                    retry_after_s=retry_after,
                )

    def started(self, workflow_id: str, jobs: int) -> None:
        """A run this process just started queued ``jobs``: count them before the next
        measure (so a burst of starts here cannot overshoot the limits)."""
        if self._total is not None:
            self._total = (self._total[0], self._total[1] + jobs)
        cached = self._per_workflow.get(workflow_id)
        if cached is not None:
            self._per_workflow[workflow_id] = (cached[0], cached[1] + jobs)

    async def total(self) -> int:
        """Jobs in every job stream (cached)."""
        now = time.monotonic()
        if self._total is not None and now - self._total[0] < self.ttl_s:
            return self._total[1]
        depth = 0
        for shard in self.keys.all_shards():
            streams = {
                as_str(k)
                async for k in self.redis.scan_iter(
                    match=self.keys.queue_pattern(shard), count=1000, _type="stream"
                )
            }
            if streams:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for key in streams:
                        pipe.xlen(key)
                    depth += sum(int(n) for n in await pipe.execute())
        self._total = (time.monotonic(), depth)
        return depth

    async def of_workflow(self, workflow_id: str) -> int:
        """Nodes queued or running in the workflow's active runs (cached)."""
        now = time.monotonic()
        cached = self._per_workflow.get(workflow_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        ids: list[str] = []
        for shard in self.keys.all_shards():
            found = await self.redis.zinter(
                [self.keys.active(shard), self.keys.runs_of(shard, workflow_id)]
            )
            ids += [as_str(cast(bytes, i)) for i in found]
        states = await self.runs.load_many(ids)
        depth = sum(
            1 for state, _ in states.values() for node in state.nodes.values()
            if node.status in _BUSY
        )  # fmt: skip
        if len(self._per_workflow) > 10_000:
            self._per_workflow.clear()
        self._per_workflow[workflow_id] = (time.monotonic(), depth)
        return depth
