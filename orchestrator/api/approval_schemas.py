"""Bodies and answers of approvals and signals."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from orchestrator.wire.ops import ApprovalList as ApprovalList
from orchestrator.wire.ops import Decided as Decided
from orchestrator.wire.ops import NotifySecret as NotifySecret
from orchestrator.wire.ops import SignalSent as SignalSent
from orchestrator.wire.ops import WaitingApprovalView as WaitingApprovalView
from orchestrator.wire.runs import DecisionView as DecisionView


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
