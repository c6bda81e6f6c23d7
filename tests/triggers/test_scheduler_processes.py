"""The scheduler in real ``dagq orchestrator`` processes: exactly once, catch-up, overlap."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime
from typing import Any

from orchestrator.engine.fires import iso_ms
from orchestrator.service.runs import now_ms
from tests.conftest import until
from tests.triggers.procs import Triggers, processes, trigger_env, triggers

__all__ = ["processes", "trigger_env", "triggers"]


def _fires(outcomes: list[dict[str, Any]]) -> list[str]:
    return [o["fire"] for o in outcomes]


async def test_every_second_on_three_orchestrators_is_one_run_per_fire(
    triggers: Triggers,
) -> None:
    await triggers.schedule(id="tick", every="1s", overlap="allow")
    for _ in range(3):
        triggers.procs.start("orchestrator")

    async def five_fires() -> bool:
        return len(await triggers.started("tick")) >= 5

    await until(five_fires, "5 fires of an every-1s schedule")
    paused_at = now_ms()
    await triggers.schedules.pause("tick", note="stop counting")

    async def lease_free() -> bool:
        return not await triggers.redis.exists(triggers.keys.schedule_lease("tick"))

    await until(lease_free, "the pass under way to finish")
    started = await triggers.started("tick")
    runs = await triggers.runs()
    # One run per fire: no fire twice, no run twice, and no second gap between fires.
    by_fire = Counter(r["meta"]["scheduledTime"] for r in runs)
    assert by_fire and max(by_fire.values()) == 1, by_fire
    assert sorted(by_fire) == sorted(_fires(started))
    assert len({o["runId"] for o in started}) == len(started) == len(runs)
    seconds = sorted(_ms(o["fire"]) for o in started)
    assert all(b - a == 1000 for a, b in itertools.pairwise(seconds)), seconds
    assert all(r["meta"]["scheduleId"] == "tick" for r in runs)

    # Nothing fires while paused; resuming fires again from the next fire time.
    count = len(runs)
    await triggers.schedules.resume("tick")
    resumed_at = now_ms()

    async def fired_again() -> bool:
        return len(await triggers.started("tick")) > count

    await until(fired_again, "a fire after resume")
    later = (await triggers.started("tick"))[count:]
    assert all(_ms(o["fire"]) > resumed_at - 1000 for o in later)
    assert not [
        o for o in await triggers.started("tick") if paused_at < _ms(o["fire"]) <= resumed_at - 1000
    ]


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


async def test_catchup_modes_after_every_orchestrator_stopped(triggers: Triggers) -> None:
    for mode in ("none", "latest", "all"):
        await triggers.schedule(id=f"c-{mode}", every="1s", overlap="allow", catchup=mode)
    first = triggers.procs.start("orchestrator")

    async def all_fired() -> bool:
        return all([len(await triggers.started(f"c-{m}")) >= 1 for m in ("none", "latest", "all")])

    await until(all_fired, "a first fire of each schedule")
    first.terminate()
    first.wait(15)
    stopped_at = now_ms()

    async def outage_long_enough() -> bool:  # 2 s detects an outage; 4 fires go missing
        return now_ms() > stopped_at + 4_500

    await until(outage_long_enough, "the clock to pass 4 fire times")
    restarted_at = now_ms()
    triggers.procs.start("orchestrator")

    async def caught_up() -> bool:
        for m in ("none", "latest", "all"):
            outcomes = await triggers.outcomes(f"c-{m}")
            if not any(o["at"] >= restarted_at for o in outcomes):
                return False
        return True

    await until(caught_up, "a pass after the restart")
    raw: Any = await triggers.redis.get(triggers.keys.scheduler_outage())
    low, high = (int(x) for x in raw.decode().split(","))
    assert low <= stopped_at + 1000 and high >= restarted_at

    def in_outage(o: dict[str, Any]) -> bool:
        return low < _ms(o["fire"]) <= high

    def split(outcomes: list[dict[str, Any]]) -> tuple[list[str], int, str]:
        """Fires started in the outage, how many were missed, the last missed one."""
        late = [o for o in outcomes if in_outage(o)]
        missed = [o for o in late if o["status"] == "missed"]  # many are one summary
        return (
            [o["fire"] for o in late if o["status"] == "started"],
            sum(o.get("count", 1) for o in missed),
            max((o["fire"] for o in missed), default=""),
        )

    started, missed, _ = split(await triggers.outcomes("c-none"))
    assert started == [] and missed >= 4
    started, missed, last_missed = split(await triggers.outcomes("c-latest"))
    assert len(started) == 1 and missed >= 3
    assert started[0] > last_missed
    started, missed, _ = split(await triggers.outcomes("c-all"))
    assert missed == 0 and len(started) >= 4
    fires = [_ms(f) for f in started]
    assert all(b - a == 1000 for a, b in itertools.pairwise(fires))
    # Caught-up runs record the fire they stand for.
    runs = {r["id"]: r for r in await triggers.runs()}
    for o in await triggers.started("c-all"):
        assert runs[o["runId"]]["meta"]["scheduledTime"] == o["fire"]


async def test_each_overlap_policy(triggers: Triggers) -> None:
    for policy in ("skip", "allow", "cancel_previous", "buffer_one"):
        await triggers.schedule(id=f"o-{policy}", every="1s", overlap=policy, catchup="none")
    triggers.procs.start("orchestrator")

    async def fired(policy: str) -> list[dict[str, Any]]:
        # Fires due before the process came up are missed (catchup none): leave them out.
        return [o for o in await triggers.outcomes(f"o-{policy}") if o["status"] != "missed"]

    async def three_outcomes() -> bool:
        for p in ("skip", "allow", "cancel_previous", "buffer_one"):
            if len(await fired(p)) < 3:
                return False
        return True

    await until(three_outcomes, "three outcomes of each schedule")
    for p in ("skip", "allow", "cancel_previous", "buffer_one"):
        await triggers.schedules.pause(f"o-{p}")
    statuses = {
        p: [o["status"] for o in await fired(p)]
        for p in ("skip", "allow", "cancel_previous", "buffer_one")
    }
    # No worker offers the handler: every run stays active until cancelled.
    assert statuses["skip"][0] == "started"
    assert set(statuses["skip"][1:]) == {"skipped_overlap"}
    assert set(statuses["allow"]) == {"started"}
    assert set(statuses["cancel_previous"]) == {"started"}
    assert statuses["buffer_one"][:2] == ["started", "buffered"]
    assert set(statuses["buffer_one"][2:]) <= {"skipped_overlap"}

    cancelled = await triggers.started("o-cancel_previous")
    metas = await triggers.service.runs.load_meta_many([o["runId"] for o in cancelled])
    for before, after in itertools.pairwise(cancelled):
        assert after["cancelledRunId"] == before["runId"]
        assert metas[before["runId"]]["status"] == "cancelled"
    assert metas[cancelled[-1]["runId"]]["status"] in ("pending", "running")

    # buffer_one: when the running run ends, the buffered fire starts (paused or not).
    buffer = await fired("buffer_one")
    buffered_fire = buffer[1]["fire"]
    await triggers.service.cancel(buffer[0]["runId"])
    await triggers.schedules.resume("o-buffer_one")

    async def buffered_started() -> bool:
        return any(
            o.get("buffered") and o["fire"] == buffered_fire
            for o in await triggers.started("o-buffer_one")
        )

    await until(buffered_started, "the buffered fire to start")
    assert iso_ms(_ms(buffered_fire)) == buffered_fire
