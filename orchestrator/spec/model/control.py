"""Node kinds that route the flow: decisions, gateways and parallel forks and joins."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from orchestrator.spec.model.base import Expression, _NodeBase


class DecisionNode(_NodeBase):
    """Evaluates ``condition``; takes the outgoing edges labelled with the result."""

    type: Literal["decision"]
    condition: Expression


class ExclusiveNode(_NodeBase):
    """Takes the first outgoing edge whose condition holds, else the default edge."""

    type: Literal["exclusive"]


class InclusiveNode(_NodeBase):
    """Takes every outgoing edge whose condition holds; the default edge only when none does."""

    type: Literal["inclusive"]


class ParallelNode(_NodeBase):
    """Forks to every outgoing edge; as a join waits for all, any or n of m inputs."""

    type: Literal["parallel"]
    join: Literal["all", "any", "n_of_m"] = "all"
    join_count: int | None = Field(default=None, ge=1)
    cancel_remaining: bool = False
    """As an ``any``/``n_of_m`` join: when it fires, cancel the branches still pending,
    queued, running or waiting (the cancelling discriminator)."""
