"""Outputs of the transitions: what the executor must write, besides the new state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.protocol import InboxMessage, Job
from orchestrator.vocab import EventType, RunStatus


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Put ``job`` on its handler's queue in ``lane``."""

    job: Job
    lane: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Deliver a ``timer`` message for ``node``/``token`` to the inbox at ``due_ms``."""

    node: str
    token: str
    due_ms: int


@dataclass(frozen=True, slots=True)
class StartDeadline:
    """Deliver a ``deadline`` message to the inbox at ``due_ms``."""

    due_ms: int


@dataclass(frozen=True, slots=True)
class Emit:
    """Append an event to the run's event stream."""

    type: EventType
    at_ms: int
    node: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finished:
    """The run reached a terminal status: drop it from the active set, start retention."""

    status: RunStatus


@dataclass(frozen=True, slots=True)
class Reopened:
    """A finished run was retried: put it back in the active set."""


@dataclass(frozen=True, slots=True)
class PostInbox:
    """Put ``message`` on the inbox of the run's shard, with the run's write: a child run
    to start, a parent to tell its child ended, a child to cancel (children live in their
    parent's shard, so the write stays in one slot)."""

    message: InboxMessage


@dataclass(frozen=True, slots=True)
class Notify:
    """POST ``body`` to the workflow's ``notify`` URL (queued with the write, sent after)."""

    url: str
    body: Mapping[str, Any]


Command = Dispatch | StartTimer | StartDeadline | Emit | Finished | Reopened | PostInbox | Notify
