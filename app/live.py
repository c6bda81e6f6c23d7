"""Following a run live: its event stream, reconnections and the connection state.

:class:`RunFollower` follows one run's events for a screen.  Each (re)connection
first catches up over plain HTTP (``GET /runs/{id}/events?since=<last id>``): the
answer proves the API is there, so the state shown is ``live`` only when it really
is, then the server-sent event stream is opened with ``Last-Event-ID`` so no event is
lost or repeated across a reconnection.  A lost connection shows ``reconnecting``
(with the reason and the attempt) and is retried with a capped backoff until the API
answers again; the follower stops at the run's end, or when the run is gone or the
caller may no longer read it.

Everything it learns is posted to its target (a screen) as messages:
:class:`RunFollower.EventReceived`, :class:`RunFollower.StateChanged` and
:class:`RunFollower.Ended`.  The pure helpers below map an event to the node status
it implies (:func:`status_from_event`) and a state to its label.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp
from textual.message import Message
from textual.message_pump import MessagePump

from app.session import Session, describe_error
from orchestrator.errors import DagqError, Unavailable
from orchestrator.vocab import (
    NODE_EVENT_STATUS,
    RUN_EVENT_STATUS,
    TERMINAL_RUN,
    NodeStatus,
    RunStatus,
)

CATCH_UP_BATCH = 1000
"""Events asked for per catch-up request (the API's largest page)."""


def status_from_event(event: Mapping[str, Any]) -> tuple[str, NodeStatus] | None:
    """``(node id, status)`` a node event implies; None for run events and unknown types."""
    node = event.get("nodeId")
    status = NODE_EVENT_STATUS.get(str(event.get("type", "")))
    if not isinstance(node, str) or not node or status is None:
        return None
    return node, status


def run_status_from_event(event: Mapping[str, Any]) -> RunStatus | None:
    """The run status a run event implies (``run_failed`` -> ``failed``), else None."""
    return RUN_EVENT_STATUS.get(str(event.get("type", "")))


class LiveState(StrEnum):
    """Where a follower stands with the run's event stream."""

    IDLE = "idle"
    """Not following anything."""
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    """The run ended (or cannot be followed): nothing more will come."""


_STATE_MARKS: Mapping[LiveState, str] = {
    LiveState.IDLE: "○",
    LiveState.CONNECTING: "◌",
    LiveState.LIVE: "●",
    LiveState.RECONNECTING: "◍",
    LiveState.ENDED: "■",
}
STATE_COLOURS: Mapping[LiveState, str] = {
    LiveState.IDLE: "#808080",
    LiveState.CONNECTING: "#5fafff",
    LiveState.LIVE: "#5fd75f",
    LiveState.RECONNECTING: "#ffaf5f",
    LiveState.ENDED: "#a8a8a8",
}


def state_label(state: LiveState, attempt: int = 0) -> str:
    """``● live``, ``◍ reconnecting… (attempt 3)``: a mark and a word, readable without colour."""
    word = {
        LiveState.IDLE: "not following",
        LiveState.CONNECTING: "connecting…",
        LiveState.LIVE: "live",
        LiveState.RECONNECTING: "reconnecting…",
        LiveState.ENDED: "ended",
    }[state]
    if state is LiveState.RECONNECTING and attempt > 1:
        word += f" (attempt {attempt})"
    return f"{_STATE_MARKS[state]} {word}"


def backoff_s(attempt: int, *, first_s: float = 0.2, max_s: float = 2.0) -> float:
    """Seconds to wait before reconnection ``attempt`` (1-based): doubling, capped."""
    return min(max_s, first_s * 2.0 ** max(0, attempt - 1))


Sleep = Callable[[float], Awaitable[None]]


class RunFollower:
    """Follows one run's events and posts what happens to ``target``.

    Run :meth:`follow` in a worker (``screen.run_worker(follower.follow(), ...)``);
    cancelling the worker stops it.  ``last_event_id`` resumes after an event the
    caller already has (None: from the run's first event).
    """

    @dataclass
    class EventReceived(Message):
        """One event of the followed run, in order, never twice."""

        run_id: str
        event: dict[str, Any]

    @dataclass
    class StateChanged(Message):
        """The connection state changed; ``detail`` says why when reconnecting or ended."""

        run_id: str
        state: LiveState
        detail: str | None = None
        attempt: int = 0

    @dataclass
    class Ended(Message):
        """Following stopped: the run ended (``error`` None) or cannot be followed."""

        run_id: str
        error: str | None = None

    def __init__(
        self,
        session: Session,
        run_id: str,
        target: MessagePump,
        *,
        last_event_id: str | None = None,
        max_backoff_s: float = 2.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.session = session
        self.run_id = run_id
        self.target = target
        self.last_event_id = last_event_id
        self.state = LiveState.IDLE
        self.run_status: str | None = None
        """The run's status as its events tell it."""
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep

    def _post(self, message: Message) -> None:
        self.target.post_message(message)

    def _set_state(self, state: LiveState, detail: str | None = None, attempt: int = 0) -> None:
        self.state = state
        self._post(self.StateChanged(self.run_id, state, detail, attempt))

    def _deliver(self, event: dict[str, Any]) -> None:
        event_id = event.get("id")
        if isinstance(event_id, str):
            self.last_event_id = event_id
        self.run_status = run_status_from_event(event) or self.run_status
        self._post(self.EventReceived(self.run_id, event))

    async def _has_ended(self) -> bool:
        """Whether the run really ended when its stream did.

        A server that shuts down closes its streams with an ``end`` frame too, so a
        stream that ends before the run's terminal event is checked against the run.
        """
        if self.run_status in TERMINAL_RUN:
            return True
        view = await self.session.call(self.session.client.get_run(self.run_id))
        return view.get("status") in TERMINAL_RUN

    async def _catch_up(self) -> None:
        """Fetch the events after the last one seen, over plain HTTP (proves the API is up)."""
        client = self.session.client
        while True:
            events = await self.session.call(
                client.run_events(self.run_id, since=self.last_event_id, limit=CATCH_UP_BATCH)
            )
            for event in events:
                self._deliver(event)
            if len(events) < CATCH_UP_BATCH:
                return

    async def _stream(self) -> None:
        """Read the live stream until the run's end frame; Unavailable when it drops."""
        # max_reconnects=0: the client would retry silently; we retry here, visibly.
        stream = self.session.client.stream_run_events(
            self.run_id, last_event_id=self.last_event_id, max_reconnects=0
        )
        async for event in stream:
            self._deliver(event)

    async def follow(self) -> None:
        """Follow the run until it ends; reconnect (forever, with backoff) when the link drops."""
        attempt = 0
        self._set_state(LiveState.CONNECTING)
        while True:
            try:
                await self._catch_up()
                self._set_state(LiveState.LIVE)
                attempt = 0
                await self._stream()
                if not await self._has_ended():
                    raise Unavailable("the API closed the event stream before the run ended")
            except Unavailable as exc:
                lost: BaseException = exc
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                lost = exc
            except DagqError as exc:
                # NotFound (expired), Forbidden (role changed), 401: waiting will not help.
                detail = describe_error(exc)
                self._set_state(LiveState.ENDED, detail)
                self._post(self.Ended(self.run_id, detail))
                return
            else:
                self._set_state(LiveState.ENDED)
                self._post(self.Ended(self.run_id))
                return
            attempt += 1
            self.session.mark_lost(lost)
            self._set_state(LiveState.RECONNECTING, describe_error(lost), attempt)
            await self._sleep(backoff_s(attempt, max_s=self.max_backoff_s))
