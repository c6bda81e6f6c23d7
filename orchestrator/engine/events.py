"""Inputs of the transitions: what happened to a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NodeStarted:
    """A worker began the attempt holding ``token``."""

    node: str
    token: str
    at_ms: int
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class NodeSucceeded:
    """The attempt holding ``token`` returned ``output``."""

    node: str
    token: str
    at_ms: int
    output: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NodeFailed:
    """The attempt holding ``token`` raised, timed out or was purged."""

    node: str
    token: str
    at_ms: int
    error: str
    timed_out: bool = False
    final: bool = False
    """Not retried whatever the retry policy says (a handler permission was revoked)."""


@dataclass(frozen=True, slots=True)
class ChildStarted:
    """The run a sub-workflow node's attempt ``token`` asked for exists: ``child``."""

    node: str
    token: str
    at_ms: int
    child: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A delay node's or a retry backoff's timer is due."""

    node: str
    token: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class DeadlinePassed:
    """The run exceeded its maximum duration."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """Someone asked to cancel the run."""

    at_ms: int
    reason: str = "cancelled by request"


@dataclass(frozen=True, slots=True)
class RetryRequested:
    """Someone asked to run a finished run again from its failure (or from ``from_node``)."""

    at_ms: int
    from_node: str | None = None
    only_node: bool = False
    """Retry just ``from_node`` (and what it unblocks), not its completed descendants."""
    skip_nodes: tuple[str, ...] = ()
    """Tasks or delays not to run again: they are skipped, and their successors go on."""
    params: Mapping[str, Any] | None = None
    """The run's parameters from now on (already checked), when the retry changes them."""


@dataclass(frozen=True, slots=True)
class Decided:
    """Someone approved or rejected a waiting approval."""

    node: str
    at_ms: int
    by: str
    role: str | None
    approve: bool
    comment: str = ""


@dataclass(frozen=True, slots=True)
class SignalSent:
    """A signal ``name`` with ``payload`` was sent to the run."""

    name: str
    at_ms: int
    payload: Mapping[str, Any]
    by: str | None = None


Event = (
    ChildStarted
    | NodeStarted
    | NodeSucceeded
    | NodeFailed
    | TimerFired
    | DeadlinePassed
    | CancelRequested
    | RetryRequested
    | Decided
    | SignalSent
)
