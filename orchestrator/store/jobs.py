"""Plain jobs and chains in Redis: their hidden workflows and their index.

A job is an ordinary run of a workflow nobody drew: one task (or a chain of tasks, or a
delay then tasks) that :mod:`orchestrator.service.jobs` derives from the request. That
workflow is stored like any other (``P{wf}:wf:<id>``: a ``meta`` and ``v:1``), so the run
service, the orchestrators, the monitor and the insight routes read it unchanged, but:

- its id is ``_job-<digest of its shape>``: every job of the same handlers, retries,
  timeout and delay shares one, and no user may create an id with that prefix;
- it is not in the workflow index, so the Workflows list and ``dagq workflows ls`` never
  show it;
- it expires ``storage.ttl + max_workflow_duration`` after the last job that used it was
  enqueued (every enqueue extends it), so it outlives every run that needs it and the
  delays of one-off jobs do not pile up.

Jobs are listed from ``P{s<k>}:jobs`` (run ids by start time), written before the run
so a run never exists unlisted; an entry whose run never came (a refused start) is
removed at once, one whose run expired is dropped when a listing meets it.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.scripts import Script
from orchestrator.spec.model import WorkflowSpec
from orchestrator.store.records import WorkflowRecord, WorkflowVersion, utc_now
from orchestrator.store.runs import merge_newest

JOB_PREFIX = "_job-"
"""The id prefix of the workflows behind jobs (reserved: users cannot create one)."""

# KEYS: workflow hash. ARGV: meta, version json, ttl seconds.
# A hash already there (a job of the same shape before) is kept; its life is extended.
_ENSURE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'v:1', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
local ttl = redis.call('TTL', KEYS[1])
if ttl >= 0 and ttl < tonumber(ARGV[3]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 0
"""


def is_job_workflow(workflow_id: str) -> bool:
    """Whether ``workflow_id`` names the hidden workflow of a job."""
    return workflow_id.startswith(JOB_PREFIX)


class JobStore:
    """The hidden workflows of jobs and the per-shard job index."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._ensure = Script(redis, _ENSURE, "jobs.ensure")

    async def ensure_workflow(self, spec: WorkflowSpec, *, ttl_s: int) -> None:
        """Store ``spec`` (version 1) unless it is there; extend its life to ``ttl_s``."""
        model = spec.model_copy(update={"version": 1})
        now = utc_now()
        record = WorkflowRecord(spec=model, created_at=now, updated_at=now)
        version = WorkflowVersion(
            version=1, workflow_id=model.id, spec=model, created_at=now, change_log="job"
        )
        await self._ensure(
            keys=[self.keys.workflow(model.id)],
            args=[record.meta().model_dump_json(), version.model_dump_json(), max(1, ttl_s)],
        )

    async def add(self, run_id: str, start_ms: int) -> None:
        """List ``run_id`` as a job (before its run is written)."""
        await self.redis.zadd(self.keys.jobs(self.keys.shard_of(run_id)), {run_id: start_ms})

    async def forget(self, run_ids: Sequence[str]) -> None:
        """Unlist jobs whose runs are gone (expired, or never written)."""
        if not run_ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for rid in run_ids:
                pipe.zrem(self.keys.jobs(self.keys.shard_of(rid)), rid)
            await pipe.execute()

    async def page(self, *, limit: int, offset: int) -> tuple[list[str], int]:
        """Job run ids newest first (every shard merged) and how many are listed."""
        keys = [self.keys.jobs(s) for s in self.keys.all_shards()]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrevrange(key, 0, offset + limit - 1, withscores=True)
                pipe.zcard(key)
            results = await pipe.execute()
        return merge_newest(results, offset=offset, limit=limit)
