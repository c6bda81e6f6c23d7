"""The client's calls for approvals and signals (mixed into ``DagqClient``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

PREFIX = "/api/v1"


def _q(value: str) -> str:
    return quote(value, safe="")


class ApprovalCalls:
    """Approvals and signals over the API; ``_obj`` comes from ``DagqClient``."""

    async def _obj(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def decide(
        self, run_id: str, node_id: str, *, approve: bool, comment: str = ""
    ) -> dict[str, Any]:
        """Approve or reject a waiting approval; the node after it (Conflict with the reason
        when it no longer waits, Forbidden when the caller is not one of its approvers)."""
        path = f"{PREFIX}/runs/{_q(run_id)}/nodes/{_q(node_id)}/decision"
        return await self._obj("POST", path, body={"approve": approve, "comment": comment})

    async def send_signal(
        self, run_id: str, name: str, payload: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a signal: ``{runId, signal, delivered, kept}`` (NotFound for a name the run's
        workflow never waits for, Conflict when no step waits for it any more)."""
        path = f"{PREFIX}/runs/{_q(run_id)}/signals/{_q(name)}"
        return await self._obj("POST", path, body=dict(payload or {}))

    async def approvals(self, *, everyone: bool = False) -> list[dict[str, Any]]:
        """Approvals waiting for the caller (every one with ``everyone``), oldest first."""
        params: Iterable[tuple[str, Any]] = [("all", "true")] if everyone else []
        data = await self._obj("GET", f"{PREFIX}/approvals", params=params)
        rows: list[dict[str, Any]] = data["approvals"]
        return rows

    async def notify_secret(self) -> dict[str, Any]:
        """``{secret, configured}``: the key signing workflow notifications."""
        return await self._obj("GET", f"{PREFIX}/notify/secret")
