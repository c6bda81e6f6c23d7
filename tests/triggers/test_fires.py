"""Fire times, DST in a time zone, jitter and the catch-up plan (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.engine.fires import Outage, due_ms, iso_ms, next_fire, next_fires, plan
from orchestrator.spec.schedule import ScheduleSpec


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def spec(**kw: Any) -> ScheduleSpec:
    return ScheduleSpec.model_validate({"id": "s", "workflow_id": "wf", **kw})


def test_nightly_in_berlin_across_both_dst_changes() -> None:
    nightly = spec(cron="0 2 * * *", timezone="Europe/Berlin")
    # Spring forward (29 March 2026): 02:00 does not exist; cronsim fires at 03:00 CEST.
    fires = next_fires(nightly, ms("2026-03-27T12:00:00+00:00"), 4)
    assert [iso_ms(f) for f in fires] == [
        "2026-03-28T01:00:00Z",  # 02:00 CET
        "2026-03-29T01:00:00Z",  # 03:00 CEST (the first existing time after 02:00)
        "2026-03-30T00:00:00Z",  # 02:00 CEST
        "2026-03-31T00:00:00Z",
    ]
    # Fall back (25 October 2026): 02:30 happens twice; it fires once, the first time.
    half = spec(cron="30 2 * * *", timezone="Europe/Berlin")
    fires = next_fires(half, ms("2026-10-24T12:00:00+00:00"), 3)
    assert [iso_ms(f) for f in fires] == [
        "2026-10-25T00:30:00Z",  # 02:30 CEST, not again at 02:30 CET
        "2026-10-26T01:30:00Z",  # 02:30 CET
        "2026-10-27T01:30:00Z",
    ]


def test_every_is_anchored_so_every_process_agrees() -> None:
    every = spec(every="1s")
    assert next_fire(every, 1_000) == 2_000
    assert next_fire(every, 1_999) == 2_000
    anchored = spec(every="1h", start_at="2026-01-01T00:30:00Z")
    assert iso_ms(next_fire(anchored, 0) or 0) == "2026-01-01T00:30:00Z"
    ends = spec(every="1m", end_at="1970-01-01T00:02:00Z")
    assert next_fires(ends, 0, 5) == [60_000, 120_000]


def test_jitter_is_fixed_per_fire_and_bounded() -> None:
    jittered = spec(every="10s", jitter="5s")
    delays = {due_ms(jittered, f) - f for f in range(0, 1_000_000, 10_000)}
    assert all(0 <= d < 5_000 for d in delays) and len(delays) > 10
    assert due_ms(jittered, 50_000) == due_ms(jittered, 50_000)


@pytest.mark.parametrize(
    ("catchup", "runs", "missed"),
    [("none", [], [12, 13, 14]), ("latest", [14], [12, 13]), ("all", [12, 13, 14], [])],
)
def test_catchup_after_an_outage(catchup: str, runs: list[int], missed: list[int]) -> None:
    s = spec(every="1s", catchup=catchup)
    # Fires at 11..16 s; schedulers were down from 11.5 s to 14.5 s; now is 16.2 s.
    p = plan(s, 11_000, 16_200, Outage(11_500, 14_500))
    on_time = [11_000, 15_000, 16_000]
    assert sorted(p.run) == sorted(on_time + [r * 1000 for r in runs])
    assert p.missed == [m * 1000 for m in missed]
    assert p.next_ms == 17_000


def test_fires_older_than_the_window_are_missed_in_bulk() -> None:
    s = spec(every="1s", catchup="all", catchup_window="10s")
    p = plan(s, 0, 100_000, Outage(0, 100_000))
    assert p.run == [f * 1000 for f in range(90, 101)]
    assert p.missed_more == 90


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"cron": "0 2 * *"}, "5 fields"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"every": "500ms"}, "at least 1s"),
        ({}, "exactly one of cron"),
        ({"cron": "0 2 * * *", "every": "1h"}, "exactly one of cron"),
        ({"every": "1h", "start_at": "2026-01-01T00:00:00"}, "zone offset"),
        ({"every": "1h", "catchup": "some"}, "catchup"),
        ({"every": "1h", "overlap": "queue"}, "overlap"),
    ],
)
def test_bad_schedules_say_why(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        spec(**fields)
    assert needle in str(err.value)


def test_camel_case_and_export() -> None:
    s = ScheduleSpec.model_validate(
        {
            "id": "n",
            "workflowId": "wf",
            "every": "90s",
            "catchupWindow": "2h",
            "startAt": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )
    assert s.to_api()["catchupWindow"] == 7200.0
    assert s.to_file()["catchup_window"] == 7200.0
