"""Request and response models of the administration and operations routes: the audit
trail and its strangers, the policy and users, queues, dead letters and workers.

The same conventions as :mod:`orchestrator.api.schemas` (wire names, ``_In``/``_Body``/``_Out``).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from orchestrator.api.schemas import StreamId, _Body, _In
from orchestrator.security.roles import PERMISSIONS
from orchestrator.vocab import AuditOutcome
from orchestrator.wire.ops import ApiKeyInfo as ApiKeyInfo
from orchestrator.wire.ops import AuditEntry as AuditEntry
from orchestrator.wire.ops import AuditList as AuditList
from orchestrator.wire.ops import CreatedUser as CreatedUser
from orchestrator.wire.ops import DeadLetter as DeadLetter
from orchestrator.wire.ops import DeadLetters as DeadLetters
from orchestrator.wire.ops import HandlerInfo as HandlerInfo
from orchestrator.wire.ops import Handlers as Handlers
from orchestrator.wire.ops import IssuedKey as IssuedKey
from orchestrator.wire.ops import LaneDepth as LaneDepth
from orchestrator.wire.ops import PermissionAnswer as PermissionAnswer
from orchestrator.wire.ops import PolicyStatus as PolicyStatus
from orchestrator.wire.ops import Purged as Purged
from orchestrator.wire.ops import Queues as Queues
from orchestrator.wire.ops import Requeued as Requeued
from orchestrator.wire.ops import ShardDepth as ShardDepth
from orchestrator.wire.ops import StrangerAddress as StrangerAddress
from orchestrator.wire.ops import StrangerList as StrangerList
from orchestrator.wire.ops import StrangerMinute as StrangerMinute
from orchestrator.wire.ops import UserInfo as UserInfo
from orchestrator.wire.ops import UserList as UserList
from orchestrator.wire.ops import WorkerView as WorkerView


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
