"""The client's calls for the caller, permissions, queues, dead letters, handlers,
audit, the policy and users (mixed into ``DagqClient``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestrator.client.base import PREFIX, Calls
from orchestrator.wire.ops import (
    AuditEntry,
    AuditList,
    DeadLetter,
    DeadLetters,
    HandlerInfo,
    Handlers,
    PermissionAnswer,
    PolicyStatus,
    Purged,
    Queues,
    Requeued,
    UserInfo,
    UserList,
)
from orchestrator.wire.runs import WhoAmI


def _letters(ids: Iterable[str], shard: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"ids": list(ids)}
    if shard is not None:
        body["shard"] = shard
    return body


class AdminCalls(Calls):
    """Who the caller is and what it may do; operations and administration."""

    async def whoami(self) -> WhoAmI:
        """``{user, role, permissions, auth}`` of this client's identity."""
        return await self._as(WhoAmI, "GET", f"{PREFIX}/whoami")

    async def check_permission(
        self, permission: str, action: str, resource: str = "*"
    ) -> PermissionAnswer:
        """``{allowed, permission, reason}`` from the server; it audits a denial."""
        body = {"permission": permission, "resource": resource, "action": action}
        return await self._as(PermissionAnswer, "POST", f"{PREFIX}/auth/check", body=body)

    async def handlers(self) -> list[HandlerInfo]:
        """Handlers live workers offer: ``[{name, workers}]``."""
        return (await self._as(Handlers, "GET", f"{PREFIX}/handlers")).handlers

    async def queues(self) -> Queues:
        """Queue depths, dead-letter count and live workers."""
        return await self._as(Queues, "GET", f"{PREFIX}/queues")

    async def dead_letters(self, *, limit: int = 100, shard: int | None = None) -> list[DeadLetter]:
        """The oldest dead-lettered jobs."""
        params = {"limit": limit, "shard": shard}
        path = f"{PREFIX}/queues/dead-letters"
        return (await self._as(DeadLetters, "GET", path, params=params)).deadLetters

    async def requeue_dead(self, ids: Iterable[str], *, shard: int | None = None) -> int:
        """Put dead letters back on their queues; how many moved."""
        path, body = f"{PREFIX}/queues/dead-letters/requeue", _letters(ids, shard)
        return (await self._as(Requeued, "POST", path, body=body)).requeued

    async def purge_dead(self, ids: Iterable[str], *, shard: int | None = None) -> int:
        """Delete dead letters (their attempts fail); how many were purged."""
        path, body = f"{PREFIX}/queues/dead-letters/purge", _letters(ids, shard)
        return (await self._as(Purged, "POST", path, body=body)).purged

    async def audit(
        self,
        *,
        limit: int = 100,
        user: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        before: str | None = None,
    ) -> list[AuditEntry]:
        """Audit entries, newest first (admins)."""
        params = {"limit": limit, "user": user, "outcome": outcome, "since": since}
        params["before"] = before
        return (await self._as(AuditList, "GET", f"{PREFIX}/audit", params=params)).entries

    async def policy_status(self) -> PolicyStatus:
        """The policy in force and the latest reload error (admins)."""
        return await self._as(PolicyStatus, "GET", f"{PREFIX}/system/policy")

    async def users(self) -> list[UserInfo]:
        """Every user and its role (admins)."""
        return (await self._as(UserList, "GET", f"{PREFIX}/system/users")).users
