"""The client's calls for approvals and signals (mixed into ``DagqClient``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.client.base import PREFIX, Calls, q, run_path
from orchestrator.wire.ops import (
    ApprovalList,
    Decided,
    NotifySecret,
    SignalSent,
    WaitingApprovalView,
)


class ApprovalCalls(Calls):
    """Approvals and signals over the API."""

    async def decide(
        self, run_id: str, node_id: str, *, approve: bool, comment: str = ""
    ) -> Decided:
        """Approve or reject a waiting approval; the node after it (Conflict with the reason
        when it no longer waits, Forbidden when the caller is not one of its approvers)."""
        path = f"{run_path(run_id)}/nodes/{q(node_id)}/decision"
        return await self._as(Decided, "POST", path, body={"approve": approve, "comment": comment})

    async def send_signal(
        self, run_id: str, name: str, payload: Mapping[str, Any] | None = None
    ) -> SignalSent:
        """Send a signal: ``{runId, signal, delivered, kept}`` (NotFound for a name the run's
        workflow never waits for, Conflict when no step waits for it any more)."""
        path = f"{run_path(run_id)}/signals/{q(name)}"
        return await self._as(SignalSent, "POST", path, body=dict(payload or {}))

    async def approvals(self, *, everyone: bool = False) -> list[WaitingApprovalView]:
        """Approvals waiting for the caller (every one with ``everyone``), oldest first."""
        params: Iterable[tuple[str, Any]] = [("all", "true")] if everyone else []
        return (await self._as(ApprovalList, "GET", f"{PREFIX}/approvals", params=params)).approvals

    async def notify_secret(self) -> NotifySecret:
        """``{secret, configured}``: the key signing workflow notifications."""
        return await self._as(NotifySecret, "GET", f"{PREFIX}/notify/secret")
