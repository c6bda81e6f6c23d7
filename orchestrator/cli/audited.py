"""Audit entries for changes made from the command line (``dagq user ...``, ``dagq run``).

The entry goes to the same trail as the API's (the Redis stream and ``<data dir>/audit.jsonl``),
written before the change and completed after it, so a command killed in between still
leaves an entry (recorded as ``interrupted`` by the next API process's sweep).  Its user is
the operating-system account that ran the command (``alice@host``), its source ``cli``.

The trail is not optional: when ``workflow.security.audit_logging`` is on and Redis cannot
be reached, the command changes nothing and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from orchestrator.errors import DagqError, Unavailable
from orchestrator.security.audit import AUDIT_FILE, AuditLog
from orchestrator.security.file_audit import FileAuditor, FileState
from orchestrator.settings import Settings
from orchestrator.store.connection import Connection, connect
from orchestrator.vocab import AuditOutcome

T = TypeVar("T")
_OWNER_TTL_S = 60  # a command counts as alive this long after it began a change


def actor() -> str:
    """Who runs this command: ``login@host`` (the uid when the account has no name)."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = f"uid{os.getuid()}"
    return f"{login}@{socket.gethostname()}"


class CliAudit:
    """One command's audit writer over an open connection."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self.conn = conn
        self.log = AuditLog(
            conn.redis,
            conn.keys,
            path=settings.data_dir / AUDIT_FILE,
            source="cli",
            owner_ttl_s=_OWNER_TTL_S,
        )
        self.files = FileAuditor(self.log, conn.redis, conn.keys)
        self.user = actor()

    async def change(
        self,
        action: str,
        resource: str,
        make: Callable[[], Awaitable[T]],
        *,
        detail: str | None = None,
        done: Callable[[T], str | None] | None = None,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        """Record ``action`` on ``resource``, run ``make``, then record its outcome
        (``done(result)`` may add to the detail; ``settle()`` runs after a success, before
        the outcome is recorded)."""
        pending = await self.log.begin(
            user=self.user,
            role=None,
            action=action,
            resource=resource,
            request_id=f"cli-{secrets.token_hex(6)}",
            detail=detail,
        )
        try:
            result = await make()
        except DagqError as exc:
            await self.log.finish(pending, AuditOutcome.ERROR, detail=exc.message)
            raise
        except BaseException as exc:  # Ctrl+C or a bug: the outcome is unknown
            await self.log.finish(pending, AuditOutcome.INTERRUPTED, detail=type(exc).__name__)
            raise
        if settle is not None:
            await settle()
        await self.log.finish(pending, AuditOutcome.ALLOWED, detail=done(result) if done else None)
        return result

    async def adopt(self, before: FileState, after: FileState) -> None:
        """The files changed by this command are on record through its own entry."""
        await self.files.adopt(before, after)

    def close(self) -> None:
        """Close the audit file."""
        self.log.close()


@contextlib.asynccontextmanager
async def cli_audit(
    settings: Settings, conn: Connection | None = None
) -> AsyncIterator[CliAudit | None]:
    """A :class:`CliAudit` on ``conn`` or the configured Redis (None when audit logging is
    off).  Raises :class:`Unavailable` saying that nothing was changed when Redis is out of
    reach."""
    if not settings.workflow.security.audit_logging:
        yield None
        return
    own = conn is None
    if conn is None:
        try:
            conn = await connect(settings)
        except Unavailable as exc:
            raise Unavailable(
                f"nothing was changed: the change cannot be recorded in the audit trail "
                f"({exc.message})"
            ) from None
    audit = CliAudit(conn, settings)
    try:
        yield audit
    finally:
        audit.close()
        if own:
            await conn.aclose()


def run_sync(job: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async job from a synchronous click command."""
    return asyncio.run(job())
