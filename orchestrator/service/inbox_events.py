"""Inbox messages as the engine's events, and an inbox entry awaiting its application."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.engine.events import (
    CancelRequested,
    DeadlinePassed,
    Event,
    NodeFailed,
    NodeStarted,
    NodeSucceeded,
    TimerFired,
)
from orchestrator.protocol import InboxMessage


def to_event(msg: InboxMessage) -> Event | None:
    """The engine event an inbox message stands for (None for ``wake``)."""
    if msg.type == "started" and msg.node and msg.token:
        return NodeStarted(msg.node, msg.token, msg.at_ms, msg.worker)
    if msg.type == "succeeded" and msg.node and msg.token:
        return NodeSucceeded(msg.node, msg.token, msg.at_ms, msg.output or {})
    if msg.type == "failed" and msg.node and msg.token:
        error = msg.error or "failed"
        return NodeFailed(msg.node, msg.token, msg.at_ms, error, msg.timed_out, msg.final)
    if msg.type == "timer" and msg.node and msg.token:
        return TimerFired(msg.node, msg.token, msg.at_ms)
    if msg.type == "deadline":
        return DeadlinePassed(msg.at_ms)
    if msg.type == "cancel":
        return CancelRequested(msg.at_ms, msg.error or "cancelled by its parent run")
    return None


@dataclass(frozen=True, slots=True)
class Pending:
    """An inbox entry read but not yet acknowledged, and the event it stands for."""

    entry_id: str
    event: Event
