"""The audit trail: every mutation and every denial, to a trimmed Redis stream and a file.

The stream (``keys.audit_log()``, trimmed to about ``maxlen`` entries) is what admins
read through the API; the JSON-lines file is the durable copy for log shippers.
The file is written first, with one ``O_APPEND`` write per entry, so replicas on one
host can share it and a Redis outage still leaves a record.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from orchestrator.errors import BadRequest, Unavailable
from orchestrator.keys import Keys

log = structlog.get_logger(__name__)

Outcome = Literal["allowed", "denied", "error"]
OUTCOMES: tuple[str, ...] = ("allowed", "denied", "error")
_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
_FIELD_MAX = 1_000
_DETAIL_MAX = 4_000
_PAGE = 500
_SCAN_MAX = 20_000  # entries a filtered read looks at before it stops


def _clip(value: str, limit: int = _FIELD_MAX) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class AuditLog:
    """Writes and reads audit entries; HTTP-free, the API passes what it knows."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        path: Path | None,
        maxlen: int = 100_000,
    ) -> None:
        self._redis = redis
        self._stream = keys.audit_log()
        self.path = Path(path) if path is not None else None
        self.maxlen = maxlen
        self._fd: int | None = None
        self._ino: int | None = None

    async def record(
        self,
        *,
        user: str | None,
        role: str | None,
        action: str,
        resource: str,
        outcome: Outcome,
        request_id: str,
        status: int | None = None,
        detail: str | None = None,
    ) -> str:
        """Append one entry to both sinks; returns its stream id.

        Raises :class:`Unavailable` if Redis refuses (the file line is written anyway).
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        now = datetime.now(UTC)
        entry: dict[str, str] = {
            "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "user": _clip(user or ""),
            "role": _clip(role or ""),
            "action": _clip(action),
            "resource": _clip(resource),
            "outcome": outcome,
            "requestId": _clip(request_id),
        }
        if status is not None:
            entry["status"] = str(int(status))
        if detail:
            entry["detail"] = _clip(detail, _DETAIL_MAX)
        self._append_line(entry)
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

    def _append_line(self, entry: dict[str, str]) -> None:
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
    }
