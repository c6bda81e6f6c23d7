"""Following a run's events: one line per event and a progress line.

:func:`follow` feeds the run's events from :func:`orchestrator.client.follow_run`
(which reconnects and resumes on a dropped connection) until the run has ended for
good, and the link's changes (``reconnecting``) to whoever shows them.
:class:`Progress` keeps each node's status from the events; :class:`EventPrinter`
writes the lines, with the progress line redrawn in place on a terminal and printed
once at the end elsewhere (logs and pipes get no carriage returns).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TextIO

from orchestrator.cli.remote.render import clock, duration, shorten
from orchestrator.client import DagqClient, Link, LinkChange, follow_run
from orchestrator.errors import DagqError
from orchestrator.vocab import (
    TERMINAL_RUN,
    NodeStatus,
    RunStatus,
    implied_changes,
)
from orchestrator.wire.runs import RunEvent, WorkflowRun

MAX_RECONNECTS = 30
"""Reconnections in a row a command tries (about a minute at the capped backoff)."""


@dataclass
class Progress:
    """Each node's status, updated from events; the counts a progress line shows."""

    nodes: dict[str, str] = field(default_factory=dict)
    run_status: str = RunStatus.PENDING

    @classmethod
    def of(cls, run: WorkflowRun) -> Progress:
        """The progress of a run view."""
        return cls({nid: n.status for nid, n in run.nodes.items()}, run.status)

    @classmethod
    def pending(cls, run: WorkflowRun) -> Progress:
        """Every node of a run view pending: where a replay from the run's start begins."""
        return cls(dict.fromkeys(run.nodes, NodeStatus.PENDING), RunStatus.PENDING)

    def apply(self, event: RunEvent) -> None:
        """Update from one event (unknown types change nothing)."""
        run_status, nodes = implied_changes(event.type, event.nodeId, event.data)
        self.run_status = run_status or self.run_status
        self.nodes.update(nodes)

    def count(self, *statuses: str) -> int:
        """How many nodes are in any of ``statuses``."""
        return sum(1 for s in self.nodes.values() if s in statuses)

    def line(self) -> str:
        """``[run running] 3/7 completed, 1 running, 0 failed`` (+ skipped, waiting when any)."""
        done, failed = NodeStatus.COMPLETED, NodeStatus.FAILED
        parts = [f"{self.count(done)}/{len(self.nodes)} {done}"]
        parts.append(f"{self.count(NodeStatus.RUNNING, NodeStatus.QUEUED)} {NodeStatus.RUNNING}")
        parts.append(f"{self.count(failed)} {failed}")
        extras = (
            NodeStatus.WAITING,
            NodeStatus.SKIPPED,
            NodeStatus.COMPENSATED,
            NodeStatus.CANCELLED,
        )
        for extra in extras:
            if n := self.count(extra):
                parts.append(f"{n} {extra}")
        return f"[run {self.run_status}] " + ", ".join(parts)


def event_line(event: RunEvent) -> str:
    """``12:00:01.234  fetch_data        node_failed     attempt 1: boom``."""
    data = event.data
    details: list[str] = []
    if data.get("attempt") is not None:
        details.append(f"attempt {data['attempt']}")
    if data.get("delayMs") is not None:
        details.append(f"retry in {duration(data['delayMs'])}")
    if data.get("fromNode"):
        details.append(f"from {data['fromNode']}")
    if data.get("worker"):
        details.append(f"on {data['worker']}")
    text = ", ".join(details)
    why = data.get("error") or data.get("reason")
    if why:
        text = f"{text}: {shorten(why, 80)}" if text else shorten(why, 80)
    node = event.nodeId or "-"
    return f"{clock(event.timestamp)}  {node:<20} {event.type:<20} {text}".rstrip()


class EventPrinter:
    """Writes event lines and the progress line to ``out``.

    ``live`` (a terminal): the progress line stays at the bottom, redrawn after every
    event.  Otherwise the progress line is printed once, by :meth:`finish`.
    """

    def __init__(
        self,
        out: TextIO,
        progress: Progress,
        *,
        live: bool,
        quiet: bool = False,
        err: TextIO | None = None,
    ):
        self.out, self.progress, self.live, self.quiet = out, progress, live, quiet
        self.err = err
        """Where the link's changes go (``reconnecting``), when given."""
        self._drawn = False
        self._lost = False

    def _clear(self) -> None:
        if self._drawn:
            self.out.write("\r\x1b[2K")
            self._drawn = False

    def event(self, event: RunEvent) -> None:
        """Record one event and show it."""
        self.progress.apply(event)
        if self.quiet:
            return
        self._clear()
        self.out.write(event_line(event) + "\n")
        if self.live:
            self.out.write(self.progress.line())
            self._drawn = True
        self.out.flush()

    def link(self, change: LinkChange) -> None:
        """Say when the link to the API is lost and when it is back (on :attr:`err`)."""
        if self.err is None:
            return
        if change.state is Link.RECONNECTING:
            error = change.error
            why = error.message if isinstance(error, DagqError) else str(error or "") or "lost"
            line = f"{why}; reconnecting (attempt {change.attempt})"
            self._lost = True
        elif change.state is Link.LIVE and self._lost:
            line, self._lost = "reconnected; following on", False
        else:
            return
        self._clear()
        self.out.flush()
        self.err.write(line + "\n")
        self.err.flush()

    def note(self, line: str) -> None:
        """A line that is not an event (why the run waits), above the progress line."""
        if self.quiet:
            return
        self._clear()
        self.out.write(line + "\n")
        if self.live:
            self.out.write(self.progress.line())
            self._drawn = True
        self.out.flush()

    def finish(self, run: WorkflowRun | None = None) -> None:
        """The final progress line, from the run as the API reports it when given."""
        if run is not None:
            self.progress = Progress.of(run)
        self._clear()
        if not self.quiet:
            self.out.write(self.progress.line() + "\n")
            self.out.flush()


WAITING_CHECK_S = 2.0
"""How often a follower asks the API why a run waits (no event says it)."""


async def report_waiting(
    client: DagqClient,
    run_id: str,
    on_waiting: Callable[[str, str], None],
    check_s: float = WAITING_CHECK_S,
) -> None:
    """Call ``on_waiting(node, note)`` once for each reason the API gives for a node that
    waits (no live worker offers its handler, dead-lettered), until the run has ended."""
    seen: set[tuple[str, str]] = set()
    while True:
        try:
            run: WorkflowRun | None = await client.get_run(run_id)
        except DagqError:
            run = None  # the follower reports what is wrong with the API
        for node_id, node in run.nodes.items() if run else ():
            note = node.waitingFor
            if note is not None and (node_id, note) not in seen:
                seen.add((node_id, note))
                on_waiting(node_id, note)
        if run is not None and run.status in TERMINAL_RUN:
            return
        await asyncio.sleep(check_s)


def waiting_line(node_id: str, note: str) -> str:
    """``waiting: no live worker offers handler 'x' (node work)``."""
    return f"waiting: {note} (node {node_id})"


async def follow(
    client: DagqClient,
    run_id: str,
    on_event: Callable[[RunEvent], None],
    on_link: Callable[[LinkChange], None] | None = None,
    on_waiting: Callable[[str, str], None] | None = None,
) -> WorkflowRun:
    """Feed every event of the run to ``on_event`` (and each change of the link to
    ``on_link``) until the run has ended; the final run view.

    ``on_waiting`` hears why a node waits when the API knows (see :func:`report_waiting`).
    Unavailable after :data:`MAX_RECONNECTS` reconnections in a row that failed.
    """
    if on_waiting is None:
        return await _follow(client, run_id, on_event, on_link)
    explain = asyncio.create_task(report_waiting(client, run_id, on_waiting))
    try:
        return await _follow(client, run_id, on_event, on_link)
    finally:
        explain.cancel()
        await asyncio.gather(explain, return_exceptions=True)


async def _follow(
    client: DagqClient,
    run_id: str,
    on_event: Callable[[RunEvent], None],
    on_link: Callable[[LinkChange], None] | None,
) -> WorkflowRun:
    async with aclosing(follow_run(client, run_id, max_attempts=MAX_RECONNECTS)) as items:
        async for item in items:
            if not isinstance(item, LinkChange):
                on_event(item)
            elif item.state is Link.ENDED and item.run is not None:
                return item.run
            elif on_link is not None:
                on_link(item)
    return await client.get_run(run_id)  # not reached: follow_run ends with the run


def node_rows(run: WorkflowRun) -> list[tuple[str, str, int, str, str]]:
    """``(node, status, attempts, duration, last error)`` of each node, in the run's order."""
    return [
        (nid, n.status, n.attempts, duration(n.duration), shorten(n.lastError or "", 60))
        for nid, n in run.nodes.items()
    ]
