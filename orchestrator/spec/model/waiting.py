"""Node kinds that wait: for a time (delay), for people (approval), for a signal."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from orchestrator.spec.model.base import (
    HANDLER_PATTERN,
    Cron,
    Duration,
    Timeout,
    _Model,
    _NodeBase,
)
from orchestrator.vocab import ROLES


class DelayNode(_NodeBase):
    """Waits for ``duration`` or until the next tick of a 5-field ``cron``."""

    type: Literal["delay"]
    duration: Duration | None = None
    cron: Cron | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DelayNode:
        if (self.duration is None) == (self.cron is None):
            raise PydanticCustomError(
                "delay_spec",
                "delay node '{id}' needs exactly one of duration or cron",
                {"id": self.id},
            )
        return self


UserName = Annotated[str, Field(min_length=1, max_length=128)]


class Approvers(_Model):
    """Who may decide an approval: any listed role or user (unset: anyone with run:approve)."""

    roles: list[str] = Field(default_factory=list, max_length=len(ROLES))
    users: list[UserName] = Field(default_factory=list, max_length=100)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise PydanticCustomError(
                "approvers",
                "unknown role {roles}; the roles are {known}",
                {"roles": ", ".join(map(repr, unknown)), "known": ", ".join(ROLES)},
            )
        return roles


class ApprovalNode(_NodeBase):
    """Waits for people: ``required`` approvals (one rejection rejects), or its timeout.

    Its outgoing edges carry ``condition: true`` (approved) and ``false`` (rejected)."""

    type: Literal["approval"]
    message: str = Field(default="", max_length=4096)
    """Shown to approvers; ``{{ expression }}`` parts read ``params`` and ``output`` (the
    merged input)."""
    approvers: Approvers | None = None
    required: int = Field(default=1, ge=1, le=100)
    timeout: Timeout | None = None
    on_timeout: Literal["approve", "reject", "fail"] = "reject"

    @model_validator(mode="after")
    def _enough_approvers(self) -> ApprovalNode:
        a = self.approvers
        if a is not None and not a.roles and self.required > len(set(a.users)):
            raise PydanticCustomError(
                "approvers",
                "approval '{id}' requires {n} approvals but only {m} user(s) may decide "
                "(approvers.users); lower required or add approvers",
                {"id": self.id, "n": self.required, "m": len(set(a.users))},
            )
        return self


SignalName = Annotated[str, Field(min_length=1, max_length=128, pattern=HANDLER_PATTERN)]


class SignalNode(_NodeBase):
    """Waits for the signal ``signal`` (sent to the run); its output is the signal's payload."""

    type: Literal["signal"]
    signal: SignalName
    timeout: Timeout | None = None
    on_timeout: Literal["fail", "continue"] = "fail"
