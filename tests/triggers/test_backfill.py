"""Backfill in real orchestrator processes: bounded, interrupted by kill -9, resumed, idempotent."""

from __future__ import annotations

from collections import Counter
from typing import Any

from orchestrator.engine.fires import iso_ms
from orchestrator.protocol import Job
from orchestrator.service.backfill import BackfillDriver
from orchestrator.service.runs import now_ms
from tests.conftest import until
from tests.triggers.procs import Triggers, processes, trigger_env, triggers

__all__ = ["processes", "trigger_env", "triggers"]


async def test_backfill_interrupted_and_resumed(triggers: Triggers) -> None:
    await triggers.schedule(id="bf", every="1m", overlap="allow")
    await triggers.schedules.pause("bf", note="only the backfill starts runs")
    minute = now_ms() // 60_000 * 60_000
    first, last = minute - 6 * 60_000, minute - 60_000
    driver = BackfillDriver(triggers.service)
    view = await driver.create("bf", first, last, max_parallel=2, user="tester")
    assert (view["total"], view["state"]) == (6, "running")

    async def active(count: int) -> bool:
        v = await driver.view("bf")
        return int(v["started"]) >= count and len(v["active"]) == min(2, 6 - count + 2)

    async def cancel_active() -> None:
        for run_id in (await driver.view("bf"))["active"]:
            await triggers.service.cancel(run_id)

    proc = triggers.procs.start("orchestrator")
    await until(lambda: active(2), "two runs of the backfill")
    # At most 2 at once: nothing more starts while both are active.
    assert len(await triggers.runs()) == 2
    triggers.procs.kill9(proc)
    await cancel_active()
    triggers.procs.start("orchestrator")  # a new process resumes from the cursor
    await until(lambda: active(4), "the backfill to resume", timeout_s=60)
    await cancel_active()
    await until(lambda: active(6), "the last two fires")
    await cancel_active()

    async def done() -> bool:
        return bool((await driver.view("bf"))["state"] == "done")

    await until(done, "the backfill to end")
    runs = await triggers.runs()
    fires = Counter(r["meta"]["scheduledTime"] for r in runs)
    assert sorted(fires) == [iso_ms(first + i * 60_000) for i in range(6)]
    assert set(fires.values()) == {1}
    assert all(r["meta"]["backfill"] and r["meta"]["scheduleId"] == "bf" for r in runs)
    # Each job carries its fire time, which a handler reads as ctx.logical_time.
    jobs = await _jobs(triggers)
    assert sorted(j.logical_time or "" for j in jobs) == sorted(fires)

    # Running it again starts nothing new: every fire time has its run already.
    again = await driver.create("bf", first, last, max_parallel=3)
    assert again["state"] == "running"
    await until(done, "the second backfill to end")
    view = await driver.view("bf")
    assert (view["started"], view["created"]) == (6, 0)
    assert len(await triggers.runs()) == 6


async def _jobs(triggers: Triggers) -> list[Job]:
    stream = triggers.keys.queue(0, "normal", "report")
    entries: Any = await triggers.redis.xrange(stream)
    return [Job.decode(fields[b"d"]) for _, fields in entries]
