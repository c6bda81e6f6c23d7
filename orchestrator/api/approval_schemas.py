"""Bodies and answers of approvals and signals."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from orchestrator.api.schemas import NodeStatusView


class Decision(BaseModel):
    """Body of ``POST /runs/{runId}/nodes/{nodeId}/decision``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    approve: bool = Field(description="true approves, false rejects")
    comment: str = Field(default="", max_length=4096, description="Why (kept with the decision)")


class SignalPayload(RootModel[dict[str, Any]]):
    """Body of ``POST /runs/{runId}/signals/{name}``: the payload, a JSON object (the
    signal node's output)."""

    root: dict[str, Any] = Field(default_factory=dict)


class ApprovalsQuery(BaseModel):
    """Query of ``GET /approvals``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: bool = Field(
        default=False,
        description="Every waiting approval, not only those waiting for the caller",
    )


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class DecisionView(_Out):
    """One person's decision."""

    by: str
    role: str | None = None
    approved: bool
    comment: str = ""
    at: str


class WaitingApprovalView(_Out):
    """An approval waiting for a decision."""

    runId: str
    workflowId: str
    workflowName: str
    nodeId: str
    nodeName: str | None = None
    message: str
    required: int
    approvals: int
    decisions: list[DecisionView]
    requestedTime: str | None = None
    dueTime: str | None = None
    onTimeout: str
    mayDecide: bool
    decidedByYou: bool


class ApprovalList(_Out):
    """``GET /approvals``: oldest request first."""

    approvals: list[WaitingApprovalView]
    total: int


class Decided(NodeStatusView):
    """The approval node after the decision (``completed`` once the outcome is known)."""


class SignalSent(_Out):
    """What became of a signal."""

    runId: str
    signal: str
    delivered: str | None = Field(default=None, description="The node it completed")
    kept: bool = Field(description="Kept until a node waits for it")


class NotifySecret(_Out):
    """The key that signs outgoing notifications."""

    secret: str
    configured: bool = Field(description="Set by triggers.notify_secret (else kept in Redis)")
