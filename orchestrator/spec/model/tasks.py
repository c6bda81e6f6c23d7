"""Node kinds that run a handler on a worker: tasks and the compensations of a saga."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from orchestrator.spec.model.base import (
    HandlerName,
    NodeId,
    Resources,
    RetryPolicy,
    Timeout,
    _NodeBase,
)


class RunnableNode(_NodeBase):
    """A node that runs a handler on a worker (``isinstance`` tells the kinds apart)."""

    handler: HandlerName
    timeout: Timeout | None = None
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_policy: RetryPolicy | None = None
    priority: int | None = Field(default=None, ge=0, le=10)
    """0-10, the lane of its jobs (7-10 high, 4-6 normal, 0-3 low); unset: the run's."""
    resources: Resources | None = None
    """Memory and CPU one attempt needs (a worker's capacity is reserved for it)."""


class TaskNode(RunnableNode):
    """Runs ``handler`` on a worker with the merged outputs of its predecessors."""

    type: Literal["task"]
    compensation: NodeId | None = None
    input: dict[str, Any] = Field(default_factory=dict)


class CompensationNode(RunnableNode):
    """Undoes a completed task when a saga fails; runs ``handler``."""

    type: Literal["compensation"]
    compensates: NodeId | None = None
    strategy: Literal["immediate", "deferred", "manual"] = "immediate"
    """The upstream reference's field.  dagq compensates once the forward work in flight
    has settled, in reverse order, which serves ``immediate`` and ``deferred`` alike;
    ``manual`` is accepted with a warning that dagq still runs it."""
