"""Fire times of a schedule and what to do with each due fire: pure functions, ms ints.

* ``cron`` is read in the schedule's IANA ``timezone`` by cronsim.  Its DST behaviour
  (documented in the README): a wall-clock time that does not exist on a spring-forward
  day fires at the first existing time after it (``0 2 * * *`` in Europe/Berlin fires at
  03:00 that day); a wall-clock time that happens twice on a fall-back day fires once,
  at its first occurrence (summer time).
* ``every`` fires at ``anchor + k * every`` where the anchor is ``start_at`` or the Unix
  epoch, so every process computes the same fire times.
* ``start_at``/``end_at`` bound the fires (both inclusive).
* ``jitter`` delays a fire by a fixed amount derived from (schedule id, fire time).
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cronsim import CronSim

from orchestrator.spec.schedule import ScheduleSpec

MAX_ENUMERATED = 10_000
"""Due fires looked at one by one in a pass; older ones are counted as missed in bulk."""


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def next_fire(spec: ScheduleSpec, after_ms: int) -> int | None:
    """The first fire strictly after ``after_ms`` (None when the schedule has ended)."""
    start, end = _ms(spec.start_at), _ms(spec.end_at)
    if start is not None and after_ms < start - 1:
        after_ms = start - 1
    if spec.every is not None:
        every_ms = max(1000, int(spec.every * 1000))
        anchor = start or 0
        k = (after_ms - anchor) // every_ms + 1
        fire = anchor + k * every_ms
    else:
        assert spec.cron is not None
        zone = ZoneInfo(spec.timezone)
        moment = datetime.fromtimestamp(after_ms / 1000, tz=UTC).astimezone(zone)
        fire = int(next(iter(CronSim(spec.cron, moment))).timestamp() * 1000)
        while fire <= after_ms:  # sub-second start: cronsim works in whole seconds
            moment = datetime.fromtimestamp(fire / 1000, tz=UTC).astimezone(zone)
            fire = int(next(iter(CronSim(spec.cron, moment))).timestamp() * 1000)
    if end is not None and fire > end:
        return None
    return fire


def fires_between(spec: ScheduleSpec, after_ms: int, until_ms: int) -> Iterator[int]:
    """Every fire in ``(after_ms, until_ms]``, oldest first."""
    fire = next_fire(spec, after_ms)
    while fire is not None and fire <= until_ms:
        yield fire
        fire = next_fire(spec, fire)


def next_fires(spec: ScheduleSpec, after_ms: int, count: int = 5) -> list[int]:
    """The next ``count`` fires after ``after_ms``."""
    out: list[int] = []
    fire = next_fire(spec, after_ms)
    while fire is not None and len(out) < count:
        out.append(fire)
        fire = next_fire(spec, fire)
    return out


def jitter_ms(spec: ScheduleSpec, fire_ms: int) -> int:
    """The fixed delay of one fire: the same in every process."""
    if spec.jitter <= 0:
        return 0
    digest = hashlib.sha256(f"{spec.id}:{fire_ms}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % max(1, int(spec.jitter * 1000))


def due_ms(spec: ScheduleSpec, fire_ms: int) -> int:
    """When a fire is started: its time plus its jitter."""
    return fire_ms + jitter_ms(spec, fire_ms)


@dataclass(frozen=True, slots=True)
class Outage:
    """A time when no scheduler ran (``from_ms`` exclusive, ``to_ms`` inclusive)."""

    from_ms: int
    to_ms: int

    def covers(self, fire_ms: int) -> bool:
        """Whether the fire fell due while nothing was scheduling."""
        return self.from_ms < fire_ms <= self.to_ms


@dataclass(frozen=True, slots=True)
class Plan:
    """What a pass does with a schedule's due fires."""

    run: list[int]
    """Fires to start (subject to the overlap policy), oldest first."""
    missed: list[int]
    """Fires not started because of ``catchup`` (recorded as missed)."""
    missed_more: int
    """Further missed fires too many to list one by one."""
    next_ms: int | None
    """The first fire not yet due (None when the schedule has ended)."""


def plan(spec: ScheduleSpec, first_ms: int, now_ms: int, outage: Outage | None) -> Plan:
    """Sort the due fires from ``first_ms`` (the stored next fire) up to ``now_ms``.

    A fire that fell due while a scheduler was running is on time and runs.  Fires that
    fell due during an ``outage`` follow ``catchup``: ``none`` misses them all, ``latest``
    runs the most recent one, ``all`` runs each; fires older than ``catchup_window``
    are missed whatever the policy.
    """
    window_start = now_ms - int(spec.catchup_window * 1000)
    fire: int | None = first_ms
    skipped = 0
    if first_ms < window_start:
        # Older than the catch-up window: missed whatever the policy, counted in bulk.
        skipped = _count_until(spec, first_ms, window_start)
        fire = next_fire(spec, window_start - 1)
    due: deque[int] = deque()
    while fire is not None and due_ms(spec, fire) <= now_ms:
        due.append(fire)
        if len(due) > MAX_ENUMERATED:
            due.popleft()
            skipped += 1
        fire = next_fire(spec, fire)
    run: list[int] = []
    missed: list[int] = []
    late = [f for f in due if outage is not None and outage.covers(f)]
    latest_late = late[-1] if late else None
    for f in due:
        if outage is None or not outage.covers(f):
            run.append(f)
        elif (
            f < window_start
            or spec.catchup == "none"
            or (spec.catchup == "latest" and f != latest_late)
        ):
            missed.append(f)
        else:
            run.append(f)
    return Plan(run=run, missed=missed, missed_more=skipped, next_ms=fire)


def _count_until(spec: ScheduleSpec, fire_ms: int, until_ms: int) -> int:
    if spec.every is not None:
        every_ms = max(1000, int(spec.every * 1000))
        return max(0, math.ceil((until_ms - fire_ms) / every_ms))
    count = 0
    fire: int | None = fire_ms
    while fire is not None and fire < until_ms and count < 10 * MAX_ENUMERATED:
        count += 1
        fire = next_fire(spec, fire)
    return count


def iso_ms(ms: int) -> str:
    """``2026-12-01T02:00:00Z`` (milliseconds only when there are some)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    text = moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")
