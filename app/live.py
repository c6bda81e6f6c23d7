"""Following a run live for a screen: its events and the connection state, as messages.

:class:`RunFollower` runs :func:`orchestrator.client.follow_run` (the one reconnect
loop: catch up over HTTP, then the event stream with ``Last-Event-ID``, a capped
backoff while the API is away) and tells a screen what it yields.  A lost connection
shows ``reconnecting`` (with the reason and the attempt) until the API answers again;
the follower stops at the run's end, or when the run is gone or the caller may no
longer read it.

Everything it learns is posted to its target (a screen) as messages:
:class:`RunFollower.EventReceived`, :class:`RunFollower.StateChanged` and
:class:`RunFollower.Ended`.  The pure helpers below map an event to the node status
it implies (:func:`status_from_event`) and a state to its label.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass
from enum import StrEnum

from textual.message import Message
from textual.message_pump import MessagePump

from app.session import Session, describe_error
from orchestrator.client import Link, LinkChange, follow_run
from orchestrator.client.follow import Sleep
from orchestrator.errors import DagqError
from orchestrator.vocab import NODE_EVENT_STATUS, RUN_EVENT_STATUS, NodeStatus, RunStatus
from orchestrator.wire.runs import RunEvent


def status_from_event(event: RunEvent) -> tuple[str, NodeStatus] | None:
    """``(node id, status)`` a node event implies; None for run events and unknown types."""
    status = NODE_EVENT_STATUS.get(event.type)
    if not event.nodeId or status is None:
        return None
    return event.nodeId, status


def run_status_from_event(event: RunEvent) -> RunStatus | None:
    """The run status a run event implies (``run_failed`` -> ``failed``), else None."""
    return RUN_EVENT_STATUS.get(event.type)


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


class RunFollower:
    """Follows one run's events and posts what happens to ``target``.

    Run :meth:`follow` in a worker (a ``@work`` method that awaits it);
    cancelling the worker stops it.  ``last_event_id`` resumes after an event the
    caller already has (None: from the run's first event).
    """

    @dataclass
    class EventReceived(Message):
        """One event of the followed run, in order, never twice."""

        run_id: str
        event: RunEvent

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

    def _deliver(self, event: RunEvent) -> None:
        self.last_event_id = event.id
        self.run_status = run_status_from_event(event) or self.run_status
        self._post(self.EventReceived(self.run_id, event))

    def _link(self, change: LinkChange) -> None:
        """Show a change of the link, and keep the session's connection state true."""
        if change.state is Link.LIVE:
            self.session.mark_connected()
        elif change.state is Link.RECONNECTING and change.error is not None:
            self.session.mark_lost(change.error)
        detail = describe_error(change.error) if change.error is not None else None
        self._set_state(LiveState(change.state), detail, change.attempt)
        if change.state is Link.ENDED:
            self._post(self.Ended(self.run_id))

    async def follow(self) -> None:
        """Follow the run until it ends; reconnect (forever, with backoff) when the link drops."""
        items = follow_run(
            self.session.client,
            self.run_id,
            last_event_id=self.last_event_id,
            max_backoff_s=self.max_backoff_s,
            sleep=self._sleep,
        )
        try:
            async with aclosing(items):
                async for item in items:
                    if isinstance(item, LinkChange):
                        self._link(item)
                    else:
                        self._deliver(item)
        except DagqError as exc:
            # NotFound (expired), Forbidden (role changed), 401: waiting will not help.
            self.session.note_error(exc)
            detail = describe_error(exc)
            self._set_state(LiveState.ENDED, detail)
            self._post(self.Ended(self.run_id, detail))
