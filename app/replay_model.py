"""A run's replay as the monitor scrubs it: the API's replay steps, one position at a time.

Pure (no Textual): the position, the nodes as of that position, the next or previous
change of a node, and how long to wait before the next step when playing.  The
states come from the API (``GET /runs/{id}/replay/steps``), which rebuilt them with
the engine's own transitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.widgets.ops_format import parse_time
from orchestrator.vocab import NodeStatus
from orchestrator.wire.runs import AttemptLogView, NodeStatusView, RunEvent

SPEEDS: tuple[float, ...] = (1.0, 2.0, 10.0, 0.0)
"""Playback speeds; 0 is "as fast as events" (one step per tick)."""
TIMES = "\N{MULTIPLICATION SIGN}"
FAST_TICK_S = 0.05
"""The pause between steps at "as fast as events"."""


def speed_label(speed: float) -> str:
    """``1x``, ``2x``, ``10x`` or ``max`` (with a multiplication sign)."""
    return "max" if speed <= 0 else f"{speed:g}" + TIMES


@dataclass
class ReplayModel:
    """The steps of one run's replay and the position shown (-1: before the first event)."""

    data: Mapping[str, Any]
    position: int = -1
    speed_index: int = 0
    _cache: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def steps(self) -> list[Mapping[str, Any]]:
        """One step per recorded event."""
        return list(self.data.get("steps") or [])

    @property
    def count(self) -> int:
        """How many events the run recorded (retained)."""
        return len(self.data.get("steps") or [])

    @property
    def speed(self) -> float:
        """The playback speed (0: as fast as events)."""
        return SPEEDS[self.speed_index]

    def cycle_speed(self) -> float:
        """Next speed: 1x, 2x, 10x, max, 1x again."""
        self.speed_index = (self.speed_index + 1) % len(SPEEDS)
        return self.speed

    def step(self) -> Mapping[str, Any] | None:
        """The event at the position (None before the first)."""
        steps = self.data.get("steps") or []
        return steps[self.position] if 0 <= self.position < len(steps) else None

    def time(self, position: int | None = None) -> datetime | None:
        """When the event at a position was recorded (None before the first event)."""
        pos = self.position if position is None else position
        steps = self.data.get("steps") or []
        return parse_time(steps[pos].get("time")) if 0 <= pos < len(steps) else None

    def offset_ms(self, position: int | None = None) -> int:
        """Milliseconds after the run's start of a position (0 before the first event)."""
        pos = self.position if position is None else position
        steps = self.data.get("steps") or []
        return int(steps[pos]["offsetMs"]) if 0 <= pos < len(steps) else 0

    def total_ms(self) -> int:
        """The time of the last event."""
        return self.offset_ms(self.count - 1) if self.count else 0

    def go(self, position: int) -> int:
        """Move to ``position`` (clamped to -1 .. count-1); the new position."""
        self.position = max(-1, min(self.count - 1, position))
        return self.position

    def nodes(self, position: int | None = None) -> dict[str, dict[str, Any]]:
        """Every node's view as of ``position`` (status, attempts, input, output, error...)."""
        pos = self.position if position is None else position
        if pos in self._cache:
            return self._cache[pos]
        base = pos - 1
        while base >= -1 and base not in self._cache:
            base -= 1
        if base < -1:
            base = -1
        if base == -1:
            views = {n: {"status": s} for n, s in (self.data.get("initial") or {}).items()}
        else:
            views = {n: dict(v) for n, v in self._cache[base].items()}
        steps = self.data.get("steps") or []
        for i in range(base + 1, pos + 1):
            for node, view in (steps[i].get("nodes") or {}).items():
                views[node] = {**views.get(node, {}), **view}
        self._cache[pos] = views
        return views

    def statuses(self, position: int | None = None) -> dict[str, str]:
        """Every node's status as of ``position``."""
        return {n: str(v.get("status")) for n, v in self.nodes(position).items()}

    def changes(self, position: int, node: str | None = None) -> bool:
        """Whether the event at ``position`` changed ``node``'s status (any node's if None)."""
        steps = self.data.get("steps") or []
        if not 0 <= position < len(steps):
            return False
        before, after = self.statuses(position - 1), self.statuses(position)
        if node is not None:
            return before.get(node) != after.get(node)
        return before != after

    def next_change(self, direction: int, node: str | None = None) -> int:
        """The next (+1) or previous (-1) position where ``node`` (or any node) changed."""
        pos = self.position + direction
        while -1 <= pos < self.count:
            if pos == -1:
                return -1
            if self.changes(pos, node):
                return pos
            pos += direction
        return self.position

    def delay_s(self) -> float:
        """How long to wait before the next step when playing at the current speed."""
        if self.position + 1 >= self.count:
            return 0.0
        if self.speed <= 0:
            return FAST_TICK_S
        gap = self.offset_ms(self.position + 1) - self.offset_ms()
        return max(0.0, gap / 1000 / self.speed)

    def node_view(self, node_id: str) -> NodeStatusView | None:
        """One node at the position, as the node panel reads it (the API's node view; a
        node the replay has not touched yet has its status only)."""
        view = self.nodes().get(node_id)
        if view is None:
            return None
        out = {"nodeId": node_id, "attempts": 0, **view}
        if "error" in out:
            out["lastError"] = out.pop("error")
        return NodeStatusView.model_validate(out)

    def events(self) -> list[RunEvent]:
        """The events up to the position, as the event log shows them."""
        steps = self.data.get("steps") or []
        run_id = self.data.get("runId")
        out = []
        for s in steps[: self.position + 1]:
            event = {"id": s["id"], "timestamp": s["time"], "type": s["type"], "runId": run_id,
                     "data": s.get("data") or {}}  # fmt: skip
            if s.get("nodeId"):
                event["nodeId"] = s["nodeId"]
            out.append(RunEvent.model_validate(event))
        return out


RUNNING = str(NodeStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class LogsAsOf:
    """A node's handler logs as they stood at one instant of its run."""

    attempts: list[AttemptLogView]
    """The attempts that had started, each with the lines written by then (an attempt
    still going shows the outcome ``running``)."""
    later: int
    """Lines written after the instant (not shown)."""


def logs_as_of(
    attempts: Sequence[AttemptLogView],
    at: datetime | None,
    *,
    status: str | None = None,
    node_attempts: int = 0,
) -> LogsAsOf:
    """``attempts`` (a node's logs, as the API sends them) as of ``at`` (pure).

    Lines carry the time they were written, so each line shows from that instant on.
    An attempt shows once it started; it is still going at ``at`` unless it had ended
    by then, is an earlier attempt than the node's current one, or the node (``status``
    and ``node_attempts`` as of ``at``, from the replay) was not running any more: the
    worker stamps its log's end a moment after the result the events record.
    ``at`` None (before the first event): nothing.
    """
    shown: list[AttemptLogView] = []
    later = 0
    for attempt in attempts:
        lines = list(attempt.lines)
        start = parse_time(attempt.startedAt) or (parse_time(lines[0].at) if lines else None)
        if at is None or (start is not None and start > at):
            later += len(lines)
            continue
        end = parse_time(attempt.endedAt)
        ended = (
            status != RUNNING or (end is not None and end <= at) or attempt.attempt < node_attempts
        )
        if ended:
            shown.append(attempt)
            continue
        kept = [line for line in lines if (parse_time(line.at) or at) <= at]
        later += len(lines) - len(kept)
        # Lines the attempt did not keep came before its first kept one.
        dropped = attempt.dropped if kept or not lines else 0
        update = {"lines": kept, "outcome": RUNNING, "dropped": dropped, "endedAt": None}
        shown.append(attempt.model_copy(update=update))
    return LogsAsOf(shown, later)
