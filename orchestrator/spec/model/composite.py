"""Node kinds that run more than one thing: a map over a list, a sub-workflow."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from orchestrator.spec.model.base import (
    Expression,
    HandlerName,
    NodeId,
    RetryPolicy,
    Timeout,
    _NodeBase,
)


class MapNode(_NodeBase):
    """Runs ``handler`` once per element of the list ``items`` evaluates to, each element
    an attempt of its own (input ``{"item", "index"}`` over the map's input)."""

    type: Literal["map"]
    items: Expression
    """An expression over ``output``, ``params`` and ``nodes`` that gives a list."""
    handler: HandlerName | None = None
    workflow: NodeId | None = None
    """Each item runs this stored workflow as a sub-workflow (instead of ``handler``)."""
    version: int | None = Field(default=None, ge=1)
    params: dict[Annotated[str, Field(min_length=1, max_length=128)], Expression] | None = None
    """With ``workflow``: each child's parameters, expressions whose ``output`` is the
    item's input (``output.item``); unset: ``{"item", "index"}``."""
    max_parallel: int | None = Field(default=None, ge=1, le=10_000)
    """Items queued or running at once; unset: the run's parallelism limit."""
    max_items: int | None = Field(default=None, ge=0, le=1_000_000)
    """More items fail the node; unset: ``resource_limits.max_map_items``."""
    tolerate_failures: int = Field(default=0, ge=0)
    """Item failures (after their retries) the map absorbs; one more fails the node."""
    timeout: Timeout | None = None
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_policy: RetryPolicy | None = None
    priority: int | None = Field(default=None, ge=0, le=10)

    @model_validator(mode="after")
    def _one_target(self) -> MapNode:
        if (self.handler is None) == (self.workflow is None):
            raise PydanticCustomError(
                "map_target",
                "map node '{id}' needs exactly one of handler (a function per item) or "
                "workflow (a sub-workflow per item)",
                {"id": self.id},
            )
        return self


class SubworkflowNode(_NodeBase):
    """Starts a run of another stored workflow, waits for it, and outputs its final outputs
    plus ``run_id``; a failed child fails the node (``retries`` start a new child)."""

    type: Literal["subworkflow"]
    workflow: NodeId
    version: int | None = Field(default=None, ge=1)
    """Unset: the newest version when the node starts (recorded in the child run)."""
    params: dict[Annotated[str, Field(min_length=1, max_length=128)], Expression] = Field(
        default_factory=dict
    )
    """The child's parameters: expressions over ``output``, ``params`` and ``nodes``."""
    retries: int | None = Field(default=None, ge=0, le=100)
    retry_policy: RetryPolicy | None = None
    priority: int | None = Field(default=None, ge=0, le=10)
    compensation: NodeId | None = None
    """A compensation node that undoes a completed child when a saga fails."""
