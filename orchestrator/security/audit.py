"""The audit trail: every change and every denial of a known user, to a Redis stream and a file.

The stream (``keys.audit_log()``, trimmed to about ``maxlen`` entries) is what admins
read through the API; the JSON-lines file is the durable copy for log shippers.
The file is written first, with one ``O_APPEND`` write per entry, so replicas on one
host can share it and a Redis outage still leaves a record.

A change is audited in two steps so that no crash can leave it without an entry:
:meth:`AuditLog.begin` writes the entry to the ``inflight`` hash *before* the change,
and :meth:`AuditLog.finish` moves it to the stream with its outcome (one script: the
hash field goes and the stream entry comes together).  Each writer keeps an ``owner``
key alive while it runs; :meth:`AuditLog.sweep` (run by every API process) moves the
in-flight entries of owners that died to the stream as ``interrupted``: the change may
or may not have happened, but the attempt is on record.

Unauthenticated strangers are not audited here (see ``strangers``): their noise must
not push what users did out of the trimmed stream.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Required, TypedDict, Unpack

import orjson
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from orchestrator.errors import BadRequest, Unavailable
from orchestrator.keys import Keys
from orchestrator.scripts import Script
from orchestrator.vocab import AuditOutcome

log = structlog.get_logger(__name__)

AUDIT_FILE = "audit.jsonl"
"""The audit file's name in the data dir (shared by the API and the command line)."""
Outcome = AuditOutcome
OUTCOMES: tuple[AuditOutcome, ...] = tuple(AuditOutcome)
Source = Literal["api", "cli", "file", "scheduler", "worker"]
INTERRUPTED = (
    "the process making this change ended before it could record the outcome; "
    "the change may or may not have been applied"
)
_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
_FIELD_MAX = 1_000
_DETAIL_MAX = 4_000
_PAGE = 500
_SCAN_MAX = 20_000  # entries a filtered read looks at before it stops


def _clip(value: str, limit: int = _FIELD_MAX) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def new_owner() -> str:
    """An id for one audit-writing process: host, pid and a random part (pids are reused)."""
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:64] or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


# KEYS[1] inflight hash, KEYS[2] owner key; ARGV[1] field, ARGV[2] entry JSON, ARGV[3] owner TTL s.
# The owner key and the entry go together, so the sweeper never sees an entry whose owner
# has not yet said it is alive.
_BEGIN_LUA = """
redis.call('SET', KEYS[2], '1', 'EX', tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS[1] inflight hash, KEYS[2] stream; ARGV[1] field, ARGV[2] maxlen, ARGV[3..] entry pairs.
# Atomic so an entry is in exactly one of the two places, never both and never neither.
_FINISH_LUA = """
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
"""

# KEYS[1] inflight hash, KEYS[2] stream, KEYS[3] the entry's owner key;
# ARGV[1] field, ARGV[2] maxlen, ARGV[3..] entry pairs.  Moves the entry only if its owner is
# gone and it is still there (two sweepers, or a late finish, cannot record it twice).
_SWEEP_LUA = """
if redis.call('EXISTS', KEYS[3]) == 1 then return false end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
"""


class EntryFields(TypedDict, total=False):
    """What a caller says about one entry (the time and the source's default are added)."""

    user: Required[str | None]
    role: Required[str | None]
    action: Required[str]
    resource: Required[str]
    outcome: Required[Outcome]
    request_id: Required[str]
    status: int | None
    detail: str | None
    source: Source | None


@dataclass(frozen=True, slots=True)
class Pending:
    """An audited change under way: its in-flight field and the entry so far."""

    field: str
    entry: dict[str, str]


class AuditLog:
    """Writes and reads audit entries; HTTP-free, the API passes what it knows."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        path: Path | None,
        maxlen: int = 100_000,
        source: Source = "api",
        owner_ttl_s: int = 30,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._stream = keys.audit_log()
        self._inflight = keys.audit_inflight()
        self.path = Path(path) if path is not None else None
        self.maxlen = maxlen
        self.source: Source = source
        self.owner = new_owner()
        self.owner_ttl_s = owner_ttl_s
        """How long this process counts as alive after its last :meth:`heartbeat` or begin."""
        self._fd: int | None = None
        self._ino: int | None = None
        self._begin = Script(redis, _BEGIN_LUA, "audit.begin")
        self._finish = Script(redis, _FINISH_LUA, "audit.finish")
        self._sweep = Script(redis, _SWEEP_LUA, "audit.sweep")

    def entry(self, **fields: Unpack[EntryFields]) -> dict[str, str]:
        """A new entry's fields (as stored in the stream), timed now."""
        outcome = fields["outcome"]
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        now = datetime.now(UTC)
        entry: dict[str, str] = {
            "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "user": _clip(fields["user"] or ""),
            "role": _clip(fields["role"] or ""),
            "action": _clip(fields["action"]),
            "resource": _clip(fields["resource"]),
            "outcome": outcome,
            "requestId": _clip(fields["request_id"]),
            "source": fields.get("source") or self.source,
        }
        _finish_entry(entry, fields.get("status"), fields.get("detail"))
        return entry

    async def record(self, **fields: Unpack[EntryFields]) -> str:
        """Append one entry (a denial, or something that is not a change) to both sinks;
        returns its stream id.

        Raises :class:`Unavailable` if Redis refuses (the file line is written anyway).
        """
        entry = self.entry(**fields)
        self.append_line(entry)
        try:
            entry_id = await self._redis.xadd(
                self._stream,
                entry,  # type: ignore[arg-type]  # redis-py's FieldT is invariant
                maxlen=self.maxlen,
                approximate=True,
            )
        except RedisError as exc:
            log.error("audit_redis_failed", error=str(exc), **entry)
            raise Unavailable(f"audit log unavailable: {exc}") from None
        return _text(entry_id)

    async def begin(
        self,
        *,
        user: str | None,
        role: str | None,
        action: str,
        resource: str,
        request_id: str,
        detail: str | None = None,
        source: Source | None = None,
    ) -> Pending:
        """Put a change on record *before* making it; :class:`Unavailable` if that fails
        (then the caller must not make the change)."""
        entry = self.entry(
            user=user,
            role=role,
            action=action,
            resource=resource,
            outcome=AuditOutcome.INTERRUPTED,
            request_id=request_id,
            detail=detail,
            source=source,
        )
        entry["owner"] = self.owner
        pending = Pending(secrets.token_hex(8), entry)
        try:
            await self._begin(
                keys=[self._inflight, self._keys.audit_owner(self.owner)],
                args=[pending.field, orjson.dumps(entry), self.owner_ttl_s],
            )
        except RedisError as exc:
            raise Unavailable(f"audit log unavailable, nothing was changed: {exc}") from None
        return pending

    async def finish(
        self,
        pending: Pending,
        outcome: Outcome,
        *,
        status: int | None = None,
        detail: str | None = None,
    ) -> str | None:
        """Record the outcome of a change begun with :meth:`begin`; returns the stream id.

        A Redis failure here is logged, not raised: the change is made, the file has the
        line, and the in-flight entry will be swept as ``interrupted``.
        """
        entry = {k: v for k, v in pending.entry.items() if k not in ("owner", "detail")}
        entry["outcome"] = outcome
        before = pending.entry.get("detail")
        joined = f"{before}: {detail}" if before and detail else detail or before
        _finish_entry(entry, status, joined)
        self.append_line(entry)
        try:
            entry_id = await self._finish(
                keys=[self._inflight, self._stream],
                args=[pending.field, self.maxlen, *_pairs(entry)],
            )
        except RedisError as exc:
            log.error("audit_redis_failed", error=str(exc), **entry)
            return None
        return _text(entry_id)

    async def heartbeat(self) -> None:
        """Say this process is alive, so the sweeper leaves its in-flight entries alone."""
        await self._redis.set(self._keys.audit_owner(self.owner), "1", ex=self.owner_ttl_s)

    async def sweep(self) -> int:
        """Record in-flight entries whose writer died as ``interrupted``; returns how many."""
        try:
            inflight = await self._redis.hgetall(self._inflight)
        except RedisError as exc:
            log.warning("audit_sweep_failed", error=str(exc))
            return 0
        entries: dict[str, dict[str, str]] = {}
        for raw_field, raw_entry in inflight.items():
            try:
                entry = {str(k): str(v) for k, v in orjson.loads(raw_entry).items()}
            except (orjson.JSONDecodeError, AttributeError):
                entry = {"action": "unknown", "resource": "", "detail": "unreadable"}
            entries[_text(raw_field)] = entry
        owners = sorted({entry.get("owner", "") for entry in entries.values()})
        try:  # one round trip for the liveness of every writer, not one per entry
            async with self._redis.pipeline(transaction=False) as pipe:
                for owner in owners:
                    pipe.exists(self._keys.audit_owner(owner))
                alive = {o for o, n in zip(owners, await pipe.execute(), strict=True) if n}
        except RedisError as exc:
            log.warning("audit_sweep_failed", error=str(exc))
            return 0
        moved = 0
        for field, entry in entries.items():
            owner = entry.pop("owner", "")
            if owner in alive:
                continue
            entry["outcome"] = AuditOutcome.INTERRUPTED
            entry["detail"] = _clip(
                f"{INTERRUPTED} ({entry['detail']})" if entry.get("detail") else INTERRUPTED,
                _DETAIL_MAX,
            )
            try:
                entry_id = await self._sweep(
                    keys=[self._inflight, self._stream, self._keys.audit_owner(owner)],
                    args=[field, self.maxlen, *_pairs(entry)],
                )
            except RedisError as exc:
                log.warning("audit_sweep_failed", error=str(exc))
                return moved
            if entry_id is not None:
                self.append_line(entry)
                moved += 1
        return moved

    def append_line(self, entry: dict[str, str]) -> None:
        """Write ``entry`` to the JSON-lines file (if configured); failures are logged only."""
        if self.path is None:
            return
        line = orjson.dumps({**entry, "status": _int_or_none(entry.get("status"))}) + b"\n"
        try:
            fd = self._file()
            os.write(fd, line)  # one write with O_APPEND: lines from replicas never interleave
        except OSError as exc:
            # The stream still gets the entry; losing the file copy must not hide the request.
            log.error("audit_file_failed", path=str(self.path), error=str(exc))

    def _file(self) -> int:
        """The open audit file, reopened when it was rotated away (moved or deleted)."""
        assert self.path is not None
        try:
            current = self.path.stat().st_ino
        except FileNotFoundError:
            current = None
        if self._fd is not None and current == self._ino:
            return self._fd
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._fd, self._ino = fd, os.fstat(fd).st_ino
        return fd

    def close(self) -> None:
        """Close the audit file (the stream needs no closing)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self._ino = None

    async def read(
        self,
        *,
        since_id: str | None = None,
        before_id: str | None = None,
        limit: int = 100,
        user: str | None = None,
        outcome: str | None = None,
    ) -> list[dict[str, Any]]:
        """Entries newest first, after ``since_id`` and before ``before_id`` (both exclusive),
        optionally only one user's or one outcome's; at most ``limit`` (1-1000)."""
        for value in (since_id, before_id):
            if value is not None and not _STREAM_ID.fullmatch(value):
                raise BadRequest(f"invalid audit entry id {value!r}")
        if outcome is not None and outcome not in OUTCOMES:
            raise BadRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
        limit = max(1, min(int(limit), 1000))
        high = f"({before_id}" if before_id else "+"
        low = f"({since_id}" if since_id else "-"
        found: list[dict[str, Any]] = []
        scanned = 0
        try:
            while len(found) < limit and scanned < _SCAN_MAX:
                page = _PAGE if (user or outcome) else limit - len(found)
                batch = await self._redis.xrevrange(self._stream, max=high, min=low, count=page)
                if not batch:
                    break
                for raw_id, fields in batch:
                    if raw_id is None:
                        continue
                    scanned += 1
                    high = f"({_text(raw_id)}"
                    entry = _decode(_text(raw_id), fields or {})
                    if (user is None or entry["user"] == user) and (
                        outcome is None or entry["outcome"] == outcome
                    ):
                        found.append(entry)
                if len(batch) < page:
                    break
        except RedisError as exc:
            raise Unavailable(f"audit log unavailable: {exc}") from None
        return found[:limit]


def _finish_entry(entry: dict[str, str], status: int | None, detail: str | None) -> None:
    entry.pop("status", None)
    entry.pop("detail", None)
    if status is not None:
        entry["status"] = str(int(status))
    if detail:
        entry["detail"] = _clip(detail, _DETAIL_MAX)


def _pairs(entry: dict[str, str]) -> list[str]:
    return [item for pair in entry.items() for item in pair]


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _decode(entry_id: str, fields: dict[Any, Any]) -> dict[str, Any]:
    data = {_text(k): _text(v) for k, v in fields.items()}
    return {
        "id": entry_id,
        "time": data.get("time", ""),
        "user": data.get("user") or None,
        "role": data.get("role") or None,
        "action": data.get("action", ""),
        "resource": data.get("resource", ""),
        "outcome": data.get("outcome", ""),
        "requestId": data.get("requestId", ""),
        "status": _int_or_none(data.get("status")),
        "detail": data.get("detail"),
        "source": data.get("source") or "api",
    }
