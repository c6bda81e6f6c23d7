"""Plain jobs and chains: a handler (or a list of handlers) and a payload, run as a workflow.

The design's migration path is "simple jobs, then job chains, then DAG workflows". A job
is not a second queue: :func:`job_spec` turns the request into a workflow (one task; a
chain of tasks, each getting the previous one's output; a delay first when the job should
run later) and :class:`JobService` starts an ordinary run of it with the payload as the
run's parameters (``config.params_as_input`` hands them to the first handler). Retries,
timeouts, priorities, dead letters, limits, audit, logs, the monitor and cancelling all
apply as to any run, through the same code. Where that workflow is kept, and why it does
not appear in the Workflows list: :mod:`orchestrator.store.jobs`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import orjson
from pydantic import ValidationError

from orchestrator.durations import format_duration
from orchestrator.engine.state import RunState
from orchestrator.errors import BadRequest, NotFound
from orchestrator.service.runs import RunService, RunSummary, new_run_id, now_ms
from orchestrator.service.runs import _summary as run_summary
from orchestrator.service.views import iso
from orchestrator.spec.model import DelayNode, TaskNode, WorkflowSpec
from orchestrator.store.jobs import JOB_PREFIX, JobStore, is_job_workflow

MAX_CHAIN = 50
"""Handlers in one chain (a longer one is a workflow: draw it)."""
WAIT_NODE = "wait"


@dataclass(frozen=True, slots=True)
class JobShape:
    """What makes two jobs run the same workflow: everything but the payload and priority."""

    handlers: tuple[str, ...]
    retries: int | None = None
    timeout_s: float | None = None
    delay_s: int = 0
    """Whole seconds to wait before the first handler (0: none)."""

    def digest(self) -> str:
        """A short digest of the shape: the hidden workflow's id after its prefix."""
        raw = orjson.dumps(
            [list(self.handlers), self.retries, self.timeout_s, self.delay_s],
        )
        return hashlib.sha256(raw).hexdigest()[:20]


def _node_ids(handlers: Sequence[str], *, delayed: bool) -> list[str]:
    """One node id per handler, readable in the monitor: the handler's name with the
    characters an id may not hold replaced, ``-2``, ``-3``... on repeats."""
    taken = {WAIT_NODE} if delayed else set()
    out: list[str] = []
    for handler in handlers:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", handler)[:120] or "step"
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def job_spec(shape: JobShape) -> WorkflowSpec:
    """The workflow a job of this shape runs (see the module docstring)."""
    handlers = shape.handlers
    kind = "chain" if len(handlers) > 1 else "job"
    ids = _node_ids(handlers, delayed=shape.delay_s > 0)
    nodes: list[Any] = []
    if shape.delay_s > 0:
        nodes.append(DelayNode(type="delay", id=WAIT_NODE, duration=float(shape.delay_s)))
    for node_id, handler in zip(ids, handlers, strict=True):
        nodes.append(
            TaskNode(
                type="task",
                id=node_id,
                handler=handler,
                retries=shape.retries,
                timeout=shape.timeout_s,
            )
        )
    order = [n.id for n in nodes]
    edges = [{"source": a, "target": b} for a, b in pairwise(order)]
    title = " → ".join(handlers) if len(" → ".join(handlers)) <= 200 else f"{handlers[0]} → …"
    return WorkflowSpec.model_validate(
        {
            "id": f"{JOB_PREFIX}{shape.digest()}",
            "name": f"{kind}: {title}",
            "description": f"The workflow behind plain {kind}s of {', '.join(handlers)}"[:4096],
            "tags": ["dagq:job"],
            "nodes": nodes,
            "edges": edges,
            "metadata": {"dagqJob": {"kind": kind, "handlers": list(handlers)}},
            "config": {"params_as_input": True},
        }
    )


def _delay_s(delay_s: float | None, run_at_ms: int | None, now: int, longest_s: float) -> int:
    if delay_s is not None and run_at_ms is not None:
        raise BadRequest("give a delay or a run-at time, not both")
    wait = 0.0
    if delay_s is not None:
        if delay_s < 0:
            raise BadRequest(f"a delay cannot be negative, got {delay_s:g} s")
        wait = delay_s
    elif run_at_ms is not None:
        wait = max(0.0, (run_at_ms - now) / 1000)  # a time already past runs now
    if wait > longest_s:
        raise BadRequest(
            f"a job may wait at most {format_duration(longest_s)} before it runs "
            f"(resource_limits.max_workflow_duration), asked for {format_duration(wait)}; "
            "use a schedule for later work",
            details={"maxDelay": longest_s},
        )
    return round(wait)


def job_view(run: Mapping[str, Any], spec: WorkflowSpec | None) -> dict[str, Any]:
    """A job as the API shows it: its run's view with the job's own fields first."""
    meta = (spec.metadata.get("dagqJob") if spec is not None else None) or {}
    handlers: list[str] = list(meta.get("handlers") or [])
    nodes: Mapping[str, Any] = run.get("nodes") or {}
    steps: list[dict[str, Any]] = []
    run_at: str | None = None
    if spec is not None:
        for node in spec.nodes:
            view = dict(nodes.get(node.id) or {})
            if node.id == WAIT_NODE and isinstance(node, DelayNode):
                run_at = view.get("dueTime") or view.get("endTime")
                continue
            if isinstance(node, TaskNode):
                steps.append({"handler": node.handler, **view})
    out: dict[str, Any] = {
        "id": run["runId"],
        "kind": meta.get("kind", "job"),
        "handler": handlers[0] if handlers else None,
        "handlers": handlers,
        "status": run["status"],
        "payload": run.get("parameters") or {},
        "priority": run.get("priority"),
        "createdAt": run.get("startTime"),
        "attempts": sum(int(s.get("attempts") or 0) for s in steps),
        "steps": steps,
    }
    if run_at is not None:
        out["runAt"] = run_at
    for src, dst in (("endTime", "endTime"), ("output", "result"), ("error", "error")):
        if run.get(src) is not None:
            out[dst] = run[src]
    if run.get("warnings"):
        out["warnings"] = run["warnings"]
    out["run"] = dict(run)
    return out


class JobService:
    """Enqueue, read, list and cancel jobs (runs of their hidden workflows)."""

    def __init__(self, service: RunService) -> None:
        self.service = service
        self.store = JobStore(service.redis, service.keys)

    def _ttl_s(self) -> int:
        settings = self.service.settings
        return int(settings.workflow.storage.ttl + settings.limits.max_workflow_duration) + 60

    async def enqueue(
        self,
        handlers: Sequence[str],
        payload: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        retries: int | None = None,
        timeout_s: float | None = None,
        delay_s: float | None = None,
        run_at_ms: int | None = None,
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a job (one handler) or a chain (several); its view."""
        if not handlers:
            raise BadRequest("a job needs a handler (or a chain of handlers)")
        if len(handlers) > MAX_CHAIN:
            raise BadRequest(
                f"a chain has at most {MAX_CHAIN} handlers, got {len(handlers)}: "
                "draw a workflow for more"
            )
        limits = self.service.settings.limits
        if retries is not None and retries > limits.max_retry_attempts:
            raise BadRequest(
                f"a job may ask for at most {limits.max_retry_attempts} retries "
                f"(resource_limits.max_retry_attempts), got {retries}"
            )
        now = now_ms()
        shape = JobShape(
            tuple(handlers),
            retries,
            timeout_s,
            _delay_s(delay_s, run_at_ms, now, limits.max_workflow_duration),
        )
        spec = job_spec(shape)
        await self.store.ensure_workflow(spec, ttl_s=self._ttl_s())
        run_id = new_run_id()
        await self.store.add(run_id, now)
        meta = {**dict(metadata or {}), "job": spec.metadata["dagqJob"]["kind"]}
        try:
            state = await self.service.start(
                spec.id,
                dict(payload or {}),
                version=1,
                priority=priority,
                user=user,
                metadata=meta,
                run_id=run_id,
                run_as=user,
            )
        except BaseException:
            await self.store.forget([run_id])
            raise
        return job_view(await self.service.describe(state), spec)

    async def _spec(self, workflow_id: str, version: int) -> WorkflowSpec | None:
        try:
            return (await self.service.specs.graph(workflow_id, version)).spec
        except NotFound:
            return None

    async def get(self, job_id: str) -> dict[str, Any]:
        """One job; :class:`NotFound` for an unknown id or a run that is not a job."""
        state = await self._job_state(job_id)
        spec = await self._spec(state.workflow_id, state.workflow_version)
        return job_view(await self.service.describe(state), spec)

    async def promote(
        self, job_id: str, workflow_id: str, *, name: str | None = None
    ) -> WorkflowSpec:
        """The workflow behind a job or chain as an ordinary workflow called
        ``workflow_id`` (not stored): open it in the designer, save it, extend it. It keeps
        ``params_as_input``, so it takes the same payload as the job did."""
        state = await self._job_state(job_id)
        spec = await self._spec(state.workflow_id, state.workflow_version)
        if spec is None:
            raise NotFound(
                f"the workflow behind job {job_id!r} has expired", details={"jobId": job_id}
            )
        info = spec.metadata.get("dagqJob") or {}
        handlers = list(info.get("handlers") or [])
        metadata = {k: v for k, v in spec.metadata.items() if k != "dagqJob"}
        metadata["promotedFrom"] = job_id
        data = spec.model_dump(mode="json", exclude_none=True)
        data.update(
            id=workflow_id,
            name=name or f"{info.get('kind', 'job').capitalize()}: {' → '.join(handlers)}"[:256],
            description=f"Promoted from {info.get('kind', 'job')} {job_id}",
            tags=[t for t in spec.tags if t != "dagq:job"],
            metadata=metadata,
        )
        data.pop("version", None)
        try:
            return WorkflowSpec.model_validate(data)
        except ValidationError as exc:
            raise BadRequest(
                f"cannot promote to {workflow_id!r}: {exc.errors()[0]['msg']}"
            ) from None

    async def _job_state(self, job_id: str) -> RunState:
        try:
            state = await self.service.get(job_id)
        except NotFound:
            raise NotFound(f"job {job_id!r} not found", details={"jobId": job_id}) from None
        if not is_job_workflow(state.workflow_id):
            raise NotFound(
                f"{job_id!r} is a run of workflow '{state.workflow_id}', not a job: "
                "see /api/v1/runs",
                details={"jobId": job_id},
            )
        return state

    async def cancel(self, job_id: str) -> None:
        """Cancel a job that has not ended (:class:`Conflict` when it has)."""
        await self.get(job_id)
        await self.service.cancel(job_id, reason="job cancelled by request")

    async def page(
        self, *, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """Jobs newest first (of one status), as list rows, and the total that matched."""
        metas, total = await self._matching(status, limit, offset)
        return [await self._row(m) for m in metas], total

    async def summaries(
        self, *, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[list[RunSummary], int]:
        """The runs of jobs newest first, as run list rows (``GET /runs?kind=job``)."""
        metas, total = await self._matching(status, limit, offset)
        return [run_summary(m) for m in metas], total

    async def _matching(
        self, status: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        if status is None:
            ids, total = await self.store.page(limit=limit, offset=offset)
            metas = await self._metas(ids)
            return [metas[r] for r in ids if r in metas], total - (len(ids) - len(metas))
        # A status filter reads metas in pages until the requested page is full.
        out: list[dict[str, Any]] = []
        matched, scan, chunk = 0, 0, 200
        while True:
            ids, total = await self.store.page(limit=chunk, offset=scan)
            if not ids:
                break
            metas = await self._metas(ids)
            for rid in ids:
                meta = metas.get(rid)
                if meta is None or meta["status"] != status:
                    continue
                if offset <= matched < offset + limit:
                    out.append(meta)
                matched += 1
            scan += len(metas)  # the forgotten ones left the index
            if scan >= total - (len(ids) - len(metas)):
                break
        return out, matched

    async def _metas(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        metas = await self.service.runs.load_meta_many(ids)
        await self.store.forget([rid for rid in ids if rid not in metas])
        return metas

    async def _row(self, meta: Mapping[str, Any]) -> dict[str, Any]:
        spec = await self._spec(str(meta["wf"]), int(meta["ver"]))
        info = (spec.metadata.get("dagqJob") if spec is not None else None) or {}
        row: dict[str, Any] = {
            "id": meta["id"],
            "kind": info.get("kind", "job"),
            "handlers": list(info.get("handlers") or []),
            "status": meta["status"],
            "createdAt": iso(int(meta["start"])),
        }
        if meta.get("end") is not None:
            row["endTime"] = iso(int(meta["end"]))
        if meta.get("error"):
            row["error"] = meta["error"]
        return row
