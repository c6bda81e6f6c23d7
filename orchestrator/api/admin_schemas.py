"""Request and response models of the administration and operations routes: the audit
trail and its strangers, the policy and users, queues, dead letters and workers.

The same conventions as :mod:`orchestrator.api.schemas` (wire names, ``_In``/``_Body``/``_Out``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from orchestrator.api.schemas import StreamId, _Body, _In, _Out
from orchestrator.security.roles import PERMISSIONS
from orchestrator.vocab import AuditOutcome


class AuditQuery(_In):
    """Filters and paging of the audit log (newest first)."""

    since: StreamId | None = None
    before: StreamId | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    user: str | None = Field(default=None, max_length=128)
    outcome: AuditOutcome | None = None


class StrangersQuery(_In):
    """How far back to look at refused unauthenticated requests."""

    minutes: int = Field(default=60, ge=1, le=1440)


class DeadLetterQuery(_In):
    """Which dead letters to list."""

    limit: int = Field(default=100, ge=1, le=1000)
    shard: int | None = Field(default=None, ge=0, le=1023)


class DeadLetterIds(_Body):
    """Which dead letters to requeue or purge."""

    ids: list[StreamId] = Field(min_length=1, max_length=1000)
    shard: int | None = Field(default=None, ge=0, le=1023)


class AuditEntry(_Out):
    """One audited request."""

    id: str
    time: str
    user: str | None = None
    role: str | None = None
    action: str
    resource: str
    outcome: str
    requestId: str
    status: int | None = None
    detail: str | None = None
    source: Literal["api", "cli", "file", "scheduler", "worker"] = "api"
    """Where the change was made: an API request, a ``dagq`` command, a policies-file edit."""


class AuditList(_Out):
    """Audit entries, newest first."""

    entries: list[AuditEntry]


class StrangerAddress(_Out):
    """One address's refused unauthenticated requests in a minute."""

    address: str
    count: int


class StrangerMinute(_Out):
    """Refused unauthenticated requests in one minute."""

    minute: datetime
    total: int
    addresses: list[StrangerAddress]
    """The busiest addresses, most requests first."""
    others: int
    """Requests from addresses past the list."""


class StrangerList(_Out):
    """Minutes that saw refused unauthenticated requests, newest first."""

    minutes: list[StrangerMinute]


class PolicyStatus(_Out):
    """The policy in force and the latest reload attempt."""

    policiesDir: str
    loadedAt: datetime
    lastReloadAt: datetime | None = None
    lastError: str | None = None
    lastErrorAt: datetime | None = None
    inError: bool
    policyLines: int
    roles: list[str]
    usersFileError: str | None = None


class ApiKeyInfo(_Out):
    """A key's public id (never the secret or its hash)."""

    id: str
    created: datetime


class UserInfo(_Out):
    """A user as admins see it."""

    name: str
    role: str
    policyRole: str | None = Field(description="The role policy.csv gives (the one enforced)")
    keys: list[ApiKeyInfo]
    hasPassword: bool
    disabled: bool
    created: datetime
    updated: datetime


class UserList(_Out):
    """Every user."""

    users: list[UserInfo]


class NewUser(_Body):
    """A user to create: its name, role (or alias) and, optionally, a web password."""

    name: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=64)
    password: str | None = Field(default=None, max_length=1024)


class UserChange(_Body):
    """What to change about a user: its role, whether it is disabled."""

    role: str | None = Field(default=None, min_length=1, max_length=64)
    disabled: bool | None = None


class NewPassword(_Body):
    """A user's new web password (null removes it: API keys only)."""

    password: str | None = Field(max_length=1024)


class IssuedKey(_Out):
    """A new API key, shown once (it replaces the user's older keys)."""

    user: str
    apiKey: str


class CreatedUser(_Out):
    """A new user and its first API key, shown once."""

    user: UserInfo
    apiKey: str


class LaneDepth(_Out):
    """One job stream's backlog."""

    length: int
    pending: int
    waiting: int
    lag: int | None = None


class ShardDepth(_Out):
    """A shard's inbox, timers and dead letters."""

    shard: int
    inbox: int
    timers: int
    dlq: int


class WorkerView(_Out):
    """A live worker."""

    id: str
    handlers: list[str]
    host: str
    pid: int
    concurrency: int
    startedMs: int
    lastSeenMs: int
    inFlight: int
    processed: int


class Queues(_Out):
    """Queue depths per handler and lane, per shard, and the live workers."""

    handlers: dict[str, dict[str, LaneDepth]]
    shards: list[ShardDepth]
    deadLetters: int
    workers: list[WorkerView]


class DeadLetter(_Out):
    """A dead-lettered job, or an inbox message the orchestrators could not apply."""

    shard: int
    id: str
    stream: str
    originalId: str
    deliveries: int
    atMs: int
    reason: str
    runId: str | None = None
    nodeId: str | None = None
    handler: str | None = None
    attempt: int | None = None
    source: Literal["job", "inbox"] = "job"
    """``inbox``: a result or signal that failed to apply ``deliveries`` times (``reason``
    says why); requeueing puts it back on the inbox."""
    messageType: str | None = None
    """The inbox message's type (``succeeded``, ``timer``...), for an inbox letter."""


class DeadLetters(_Out):
    """Dead letters, oldest first."""

    deadLetters: list[DeadLetter]


class Requeued(_Out):
    """How many dead letters went back to their queue."""

    requeued: int


class Purged(_Out):
    """How many dead letters were deleted (their attempts failed)."""

    purged: int


class HandlerInfo(_Out):
    """A handler and the live workers offering it."""

    name: str
    workers: list[str]


class Handlers(_Out):
    """Handlers live workers offer, by name."""

    handlers: list[HandlerInfo]


class PermissionCheck(_Body):
    """A permission the app refused locally, asked of the server (a refusal is audited)."""

    permission: str = Field(max_length=64, description="A permission, e.g. workflow:execute")
    resource: str = Field(
        default="*", min_length=1, max_length=256, description="What it was for: an id, or *"
    )
    action: str = Field(
        min_length=1, max_length=200, description="What the person tried, e.g. 'start a run'"
    )

    @field_validator("permission")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in PERMISSIONS:
            raise ValueError(f"unknown permission {value!r}; one of {', '.join(PERMISSIONS)}")
        return value

    @field_validator("resource", "action")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be printable text (no control characters)")
        return value


class PermissionAnswer(_Out):
    """Whether the caller holds the permission now, and if not why."""

    allowed: bool
    permission: str
    reason: str
