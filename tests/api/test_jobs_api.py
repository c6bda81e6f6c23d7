"""Plain jobs and chains through the API: the same runs, workers, retries and dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.client import DagqClient
from orchestrator.errors import BadRequest, Conflict, NotFound
from orchestrator.store.queue import JobQueue
from orchestrator.wire.triggers import Job
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api, pipeline_spec
from tests.api.test_handler_permissions import narrow
from tests.conftest import until

NOBODY = "nobodyOffersThis"


class Flaky:
    """``flaky`` fails its first ``failures`` attempts."""

    def __init__(self) -> None:
        self.failures = 0
        self.calls = 0


def _registry(state: Flaky) -> Registry:
    reg = Registry()

    def send_email(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"sent": data["to"], "priority": ctx.params.get("urgent", False)}

    def fetch(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"size": len(data["url"])}

    def resize(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"size": data["size"] * 2, "resized": True}

    def upload(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"uploaded": data["size"], "was_resized": data["resized"]}

    def flaky(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        state.calls += 1
        if ctx.attempt <= state.failures:
            raise RuntimeError(f"flaky attempt {ctx.attempt}")
        return {"attempt": ctx.attempt}

    reg.register("sendEmail", send_email)
    for fn in (fetch, resize, upload, flaky):
        reg.register(fn.__name__, fn)
    return reg


@pytest.fixture
async def flaky(api: Api) -> AsyncIterator[Flaky]:
    """A real worker in this process offering the handlers above."""
    state = Flaky()
    stop = asyncio.Event()
    worker = Worker(api.conn.redis, api.conn.keys, api.settings, _registry(state), concurrency=4)
    task = asyncio.create_task(worker.run(stop))
    yield state
    stop.set()
    await task


def _client(api: Api, role: str = "operator") -> DagqClient:
    return DagqClient(api.base_url, api_key=api.keys[role])


async def _ended(c: DagqClient, job_id: str) -> Job:
    seen: list[Job] = []

    async def done() -> bool:
        seen[:] = [await c.get_job(job_id)]
        return seen[0].status not in ("pending", "running")

    await until(done, f"job {job_id} to end")
    return seen[0]


async def test_a_job_and_a_chain_run_on_the_workers(api: Api, flaky: Flaky) -> None:
    async with _client(api) as c:
        job = await c.enqueue("sendEmail", {"to": "ada@example.com"}, priority=8)
        assert (job.kind, job.handler, job.payload) == (
            "job", "sendEmail", {"to": "ada@example.com"}
        )  # fmt: skip
        assert job.priority == 8
        done = await _ended(c, job.id)
        assert done.status == "completed"
        assert done.result == {"sent": "ada@example.com", "priority": False}
        assert [s.status for s in done.steps] == ["completed"]

        chain = await c.chain(["fetch", "resize", "upload"], {"url": "https://x.io/a.png"})
        ended = await _ended(c, chain.id)
        assert ended.kind == "chain" and ended.handlers == ["fetch", "resize", "upload"]
        assert ended.result == {"uploaded": 36, "was_resized": True}
        assert [s.handler for s in ended.steps] == ["fetch", "resize", "upload"]
        assert ended.steps[1].input == {"size": 18}  # the previous output, nothing else

        listed = await c.list_jobs()
        assert [j.id for j in listed.jobs] == [chain.id, job.id]
        assert listed.total == 2
        failed = await c.list_jobs(status="failed")
        assert failed.jobs == [] and failed.total == 0

        # The same runs behind /runs, and no job in the Workflows list.
        run = await c.get_run(job.id)
        assert run.workflowId.startswith("_job-")
        assert (await c.list_workflows()).items == []
        # Two jobs of one shape share one hidden workflow.
        again = await c.enqueue("sendEmail", {"to": "bob@example.com"})
        assert (await c.get_run(again.id)).workflowId == run.workflowId


async def test_jobs_retry_and_time_out_like_tasks(api: Api, flaky: Flaky) -> None:
    flaky.failures = 1
    async with _client(api) as c:
        job = await c.enqueue("flaky", {}, retries=2, attempt_timeout="10s")
        done = await _ended(c, job.id)
        assert done.status == "completed" and done.result == {"attempt": 2}
        assert done.attempts == 2
        flaky.failures = 5
        doomed = await c.enqueue("flaky", {}, retries=1)
        failed = await _ended(c, doomed.id)
        assert failed.status == "failed" and "flaky attempt 2" in (failed.error or "")
        assert failed.steps[0].attempts == 2


async def test_a_delayed_job_waits_then_runs(api: Api, flaky: Flaky) -> None:
    async with _client(api) as c:
        job = await c.enqueue("sendEmail", {"to": "later@example.com"}, delay="1s")
        assert job.status == "running" and job.runAt
        assert job.steps[0].status == "pending"
        done = await _ended(c, job.id)
        assert (done.result or {})["sent"] == "later@example.com"
        at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        timed = await c.enqueue("sendEmail", {"to": "at@example.com"}, run_at=at)
        assert (await _ended(c, timed.id)).status == "completed"


async def test_a_job_nobody_runs_dead_letters_and_cancels(api: Api) -> None:
    async with _client(api) as c:
        job = await c.enqueue(NOBODY, {"n": 1})
        assert "no live worker offers handler" in (job.steps[0].waitingFor or "")
        settings = api.settings.model_copy(
            update={
                "queue": api.settings.queue.model_copy(
                    update={"visibility_timeout": 0.05, "max_deliveries": 1}
                )
            }
        )
        queue = JobQueue(api.conn.redis, api.conn.keys, settings)
        assert await queue.read([NOBODY], "ghost", 1)

        async def dead() -> bool:
            await queue.reclaim("janitor", [NOBODY])
            return bool(await queue.dead_letters())

        await until(dead, "the job to be dead-lettered")
        seen = await c.get_job(job.id)
        assert (seen.steps[0].deadLetter or {})["handler"] == NOBODY
        assert "dead-lettered" in (seen.steps[0].waitingFor or "")

        await c.cancel_job(job.id)
        assert (await c.get_job(job.id)).status == "cancelled"
        with pytest.raises(Conflict):
            await c.cancel_job(job.id)


async def test_bad_jobs_are_refused_with_reasons(api: Api) -> None:
    op = api.auth("operator")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"payload": {}}, "either handler"),
        ({"handler": "a", "chain": ["b"]}, "either handler"),
        ({"handler": "not a handler!"}, "handler"),
        ({"chain": []}, "chain"),
        ({"handler": "a", "payload": [1]}, "payload"),
        ({"handler": "a", "timeout": 0}, "timeout"),
        ({"handler": "a", "delay": "soon"}, "not a duration"),
        ({"handler": "a", "delay": 1, "runAt": "2030-01-01T00:00:00Z"}, "not both"),
        ({"handler": "a", "delay": "30d"}, "max_workflow_duration"),
        ({"handler": "a", "retries": 99}, "max_retry_attempts"),
    ]
    for payload, why in bad:
        resp = await api.client.post("/api/v1/jobs", json=payload, headers=op)
        body = await resp.json()
        assert resp.status == 400, (payload, body)
        assert why in str(body), (payload, body)
    async with _client(api, "admin") as c:
        await c.create_workflow(pipeline_spec())
        run = await c.start_run("pipeline")
        with pytest.raises(NotFound, match="not a job"):
            await c.get_job(run.runId)
        with pytest.raises(NotFound):
            await c.get_job("run-nope")
        with pytest.raises(BadRequest, match="reserved"):
            await c.create_workflow(pipeline_spec("_job-mine"))


async def test_designers_cannot_enqueue(api: Api) -> None:
    resp = await api.client.post(
        "/api/v1/jobs", json={"handler": "sendEmail"}, headers=api.auth("designer")
    )
    assert resp.status == 403


async def test_a_job_needs_its_handlers_permissions(api: Api) -> None:
    await narrow(api, "operator", "handler:send*", "handler:fetch")
    op = api.auth("operator")
    resp = await api.client.post("/api/v1/jobs", json={"chain": ["fetch", "resize"]}, headers=op)
    body = await resp.json()
    assert resp.status == 403, body
    assert "'resize'" in body["message"] and body["details"]["handler"] == "resize"
    resp = await api.client.post("/api/v1/jobs", json={"handler": "sendEmail"}, headers=op)
    assert resp.status == 201
    async with _client(api, "admin") as c:
        assert (await c.list_jobs()).total == 1  # the refused chain left nothing listed
