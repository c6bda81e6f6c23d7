"""Following a run: its events in order, across dropped connections, until it ends.

:func:`follow_run` is the one reconnect loop of every client (``dagq runs watch``,
``dagq runs start --wait``, the TUI's monitor).  Each (re)connection first catches up
over plain HTTP (``GET /runs/{id}/events?since=<last id>``): the answer proves the API
is there, so ``live`` is reported only when it really is; then the server-sent event
stream is read with ``Last-Event-ID``, so no event is lost or repeated.  A lost
connection is reported as ``reconnecting`` (with the attempt and the reason) and
retried with a capped backoff.  The stream's end frame is checked against the run (a
retried run's stream may end at an earlier terminal event): following ends only when
the run has ended, with the run's final view.  An error waiting will not cure (the
run is gone, the caller may no longer read it, a bad key) is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from enum import StrEnum

import aiohttp

from orchestrator.client.http import DagqClient
from orchestrator.errors import Unavailable
from orchestrator.vocab import RUN_EVENT_STATUS, TERMINAL_RUN
from orchestrator.wire.runs import RunEvent, WorkflowRun

CATCH_UP_BATCH = 1000
"""Events asked for per catch-up request (the API's largest page)."""

Sleep = Callable[[float], Awaitable[None]]


class Link(StrEnum):
    """Where a follower stands with the run's event stream."""

    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    """The run ended: nothing more will come."""


@dataclass(frozen=True, slots=True)
class LinkChange:
    """The follower's link changed (yielded between the events)."""

    state: Link
    attempt: int = 0
    """Which reconnection this is (1-based), while ``reconnecting``."""
    error: BaseException | None = None
    """Why the link was lost, while ``reconnecting``."""
    run: WorkflowRun | None = None
    """The run's final view, once ``ended``."""


Followed = RunEvent | LinkChange
"""What :func:`follow_run` yields: an event or a link change."""


def backoff_s(attempt: int, *, first_s: float = 0.2, max_s: float = 2.0) -> float:
    """Seconds to wait before reconnection ``attempt`` (1-based): doubling, capped."""
    return min(max_s, first_s * 2.0 ** max(0, attempt - 1))


async def follow_run(
    client: DagqClient,
    run_id: str,
    *,
    last_event_id: str | None = None,
    max_attempts: int | None = None,
    max_backoff_s: float = 2.0,
    sleep: Sleep = asyncio.sleep,
) -> AsyncGenerator[Followed, None]:
    """Yield the run's events after ``last_event_id`` (None: from its first), and the
    link's changes, until the run has ended (the last item is ``LinkChange(ENDED, run=...)``).

    ``max_attempts`` reconnections in a row fail: :class:`Unavailable` (None: retry for
    as long as the caller follows).  Any other :class:`DagqError` is raised at once.
    """
    last, attempt = last_event_id, 0
    run_status: str | None = None
    yield LinkChange(Link.CONNECTING)
    while True:
        try:
            delivered = 0
            while True:  # catch up over plain HTTP
                events = await client.run_events(run_id, since=last, limit=CATCH_UP_BATCH)
                for event in events:
                    last = event.id
                    run_status = RUN_EVENT_STATUS.get(event.type, run_status)
                    delivered += 1
                    yield event
                if len(events) < CATCH_UP_BATCH:
                    break
            yield LinkChange(Link.LIVE)
            attempt = 0
            async with aclosing(client.stream_run_events(run_id, last_event_id=last)) as stream:
                async for event in stream:
                    last = event.id
                    run_status = RUN_EVENT_STATUS.get(event.type, run_status)
                    delivered += 1
                    yield event
            run = await client.get_run(run_id)
            # The end frame came: done when the run agrees.  A run retried since goes
            # on (the next round catches up); a terminal run whose terminal event was
            # not seen ends once a round brings nothing new.
            if run.status in TERMINAL_RUN and (run_status in TERMINAL_RUN or not delivered):
                yield LinkChange(Link.ENDED, run=run)
                return
            continue
        except (Unavailable, aiohttp.ClientError, OSError, TimeoutError) as exc:
            lost: BaseException = exc
        attempt += 1
        if max_attempts is not None and attempt > max_attempts:
            if isinstance(lost, Unavailable):
                raise lost
            raise Unavailable(f"lost the event stream of {run_id}: {lost}") from None
        yield LinkChange(Link.RECONNECTING, attempt, lost)
        await sleep(backoff_s(attempt, max_s=max_backoff_s))
