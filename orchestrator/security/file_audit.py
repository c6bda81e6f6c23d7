"""Audit entries for edits of the policies files, which happen outside any API request.

Who edited a file cannot be known; what can be is recorded: which file, a summary of
what changed (rules added and removed, users added, removed, re-roled, re-keyed), and
whether the edit was accepted or refused (and why).  The files as last recorded live
in one Redis hash (``keys.audit_files()``: a digest and a snapshot per kind), so

- N API replicas that all reload the same edit write one entry between them (a
  compare-and-set script: only the replica that moves the recorded digest writes);
- an edit made while no API ran is recorded when the next one starts;
- ``dagq user``, which writes its own entry naming the change, *adopts* the new files as
  recorded before it completes that entry; reloads seen while a command's entry is in flight
  wait (:meth:`FileAuditor.flush`), and an accepted version the files have moved on from by
  then is dropped (the reload lags the disk by a tick), so nothing is recorded twice or
  backwards.

Snapshots hold policy texts and the users' :func:`users_summary`: never a secret.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from orchestrator.keys import Keys
from orchestrator.scripts import Script
from orchestrator.security.audit import AuditLog
from orchestrator.security.policy_file import MODEL_FILE, POLICY_FILE, USERS_FILE, parse_policy
from orchestrator.security.rbac import PolicyChange
from orchestrator.security.users import UsersChange
from orchestrator.vocab import AuditOutcome

log = structlog.get_logger(__name__)

Kind = Literal["policy", "users"]
_SHOWN = 8  # changed lines or users named in one entry; the rest are counted
_ATTEMPTS = 5
_BACKLOG_MAX = 50

# KEYS[1] files hash, KEYS[2] audit stream.  ARGV[1] kind, ARGV[2] the digest the caller
# diffed against ('' = none recorded), ARGV[3] '1' accepted / '0' refused, ARGV[4] digest,
# ARGV[5] snapshot JSON, ARGV[6] maxlen, ARGV[7..] entry pairs.  Returns the entry id, or
# false when another writer moved the record first (re-read and retry) or already wrote it.
_RECORD_LUA = """
local kind = ARGV[1]
local current = redis.call('HGET', KEYS[1], kind .. ':digest') or ''
if current ~= ARGV[2] then return false end
if ARGV[3] == '1' then
  if current == ARGV[4] then return false end
  redis.call('HSET', KEYS[1], kind .. ':digest', ARGV[4], kind .. ':snapshot', ARGV[5])
  redis.call('HDEL', KEYS[1], kind .. ':refused')
else
  if redis.call('HGET', KEYS[1], kind .. ':refused') == ARGV[4] then return false end
  redis.call('HSET', KEYS[1], kind .. ':refused', ARGV[4])
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', unpack(ARGV, 7))
"""

# KEYS[1] files hash.  ARGV[1] kind, ARGV[2] digest before the caller's change, ARGV[3] digest
# after, ARGV[4] snapshot after.  Moves the record only if it was at the caller's "before" (or
# nothing is recorded yet): an unrecorded hand edit made just before stays for the reload.
_ADOPT_LUA = """
local kind = ARGV[1]
local current = redis.call('HGET', KEYS[1], kind .. ':digest') or ''
if current ~= '' and current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], kind .. ':digest', ARGV[3], kind .. ':snapshot', ARGV[4])
redis.call('HDEL', KEYS[1], kind .. ':refused')
return 1
"""


@dataclass(frozen=True, slots=True)
class FileState:
    """The policies files of one kind as judged once: accepted or refused."""

    kind: Kind
    accepted: bool
    error: str | None
    digest: str
    snapshot: dict[str, Any]

    @classmethod
    def of_policy(cls, change: PolicyChange) -> FileState:
        """The state of ``model.conf`` + ``policy.csv`` from an authorizer's change."""
        snapshot = {MODEL_FILE: change.model_text, POLICY_FILE: change.policy_text}
        return cls("policy", change.accepted, change.error, change.digest, snapshot)

    @classmethod
    def of_users(cls, change: UsersChange) -> FileState:
        """The state of ``users.yaml`` from a user store's change."""
        return cls("users", change.accepted, change.error, change.digest, change.summary)


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _rules(text: str) -> list[str]:
    return [", ".join((rule.ptype, *rule.fields)) for rule in parse_policy(text)]


def _model_lines(text: str) -> list[str]:
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


def _lines_diff(name: str, old: Iterable[str], new: Iterable[str]) -> str | None:
    before, after = Counter(old), Counter(new)
    added = list((after - before).elements())
    removed = list((before - after).elements())
    if not added and not removed:
        return None
    shown = [f"+ {line}" for line in added] + [f"- {line}" for line in removed]
    more = f"; and {len(shown) - _SHOWN} more" if len(shown) > _SHOWN else ""
    return f"{name}: +{len(added)} -{len(removed)} ({'; '.join(shown[:_SHOWN])}{more})"


def _users_diff(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    notes: list[str] = []
    for name in sorted(new.keys() - old.keys()):
        notes.append(f"added {name} ({new[name].get('role')})")
    for name in sorted(old.keys() - new.keys()):
        notes.append(f"removed {name}")
    for name in sorted(old.keys() & new.keys()):
        was, now = old[name], new[name]
        if was.get("role") != now.get("role"):
            notes.append(f"{name}: role {was.get('role')} -> {now.get('role')}")
        if was.get("disabled") != now.get("disabled"):
            notes.append(f"{name}: {'disabled' if now.get('disabled') else 'enabled'}")
        if was.get("keys") != now.get("keys"):
            notes.append(f"{name}: API keys {was.get('keys')} -> {now.get('keys')}")
        if was.get("password") != now.get("password"):
            notes.append(f"{name}: password {'changed' if now.get('password') else 'cleared'}")
    if not notes:
        return None
    more = f"; and {len(notes) - _SHOWN} more" if len(notes) > _SHOWN else ""
    return f"{USERS_FILE}: {'; '.join(notes[:_SHOWN])}{more}"


def _first_seen(state: FileState) -> str:
    if state.kind == "users":
        admins = sum(1 for u in state.snapshot.values() if u.get("role") == "workflow_admin")
        return f"{USERS_FILE}: {len(state.snapshot)} users, {admins} admins"
    rules = _rules(str(state.snapshot.get(POLICY_FILE, "")))
    p_lines = sum(1 for r in rules if r.startswith("p,"))
    return f"{POLICY_FILE}: {p_lines} p lines, {len(rules) - p_lines} g lines"


def diff_summary(old: dict[str, Any] | None, state: FileState) -> str:
    """What changed from the recorded snapshot ``old`` to ``state``, in one line."""
    if old is None:
        return "first recorded: " + _first_seen(state)
    if state.kind == "users":
        parts = [_users_diff(old, state.snapshot)]
    else:
        new = state.snapshot
        parts = [
            _lines_diff(
                MODEL_FILE,
                _model_lines(str(old.get(MODEL_FILE, ""))),
                _model_lines(str(new.get(MODEL_FILE, ""))),
            ),
            _lines_diff(
                POLICY_FILE,
                _rules(str(old.get(POLICY_FILE, ""))),
                _rules(str(new.get(POLICY_FILE, ""))),
            ),
        ]
    found = [p for p in parts if p]
    return "; ".join(found) if found else "no rule changed (comments or layout only)"


class FileAuditor:
    """Writes the audit entries of the policies files (see the module docstring)."""

    def __init__(
        self,
        audit: AuditLog,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        on_disk: Callable[[Kind], str | None] | None = None,
    ) -> None:
        self._audit = audit
        self._on_disk = on_disk
        """The digest of a kind's files as they are on disk now (None: cannot tell)."""
        self._redis = redis
        self._files = keys.audit_files()
        self._stream = keys.audit_log()
        self._inflight = keys.audit_inflight()
        self._record = Script(redis, _RECORD_LUA, "file_audit.record")
        self._adopt = Script(redis, _ADOPT_LUA, "file_audit.adopt")
        self._backlog: list[FileState] = []

    def add(self, state: FileState) -> None:
        """Queue a reload's outcome for :meth:`flush`."""
        self._backlog.append(state)
        del self._backlog[:-_BACKLOG_MAX]

    async def flush(self) -> None:
        """Record the queued reloads, unless a command-line change is in flight: its own
        entry names what it changes, and it adopts the files before completing that entry."""
        if not self._backlog:
            return
        try:
            inflight = await self._redis.hvals(self._inflight)
        except RedisError as exc:
            log.warning("file_audit_failed", error=str(exc))
            return
        if any(b'"source":"cli"' in _raw(entry) for entry in inflight):
            return
        backlog, self._backlog = self._backlog, []
        # Of several accepted versions of one kind, only the last is the change to record:
        # the ones before it were a command's intermediate states (it recorded them itself).
        kept: list[FileState] = []
        for state in backlog:
            if state.accepted:
                kept = [k for k in kept if not (k.accepted and k.kind == state.kind)]
            kept.append(state)
        for state in kept:
            if state.accepted and self._on_disk is not None:
                now = self._on_disk(state.kind)
                if now is not None and now != state.digest:
                    continue  # stale: the reload of what is on disk now comes next
            await self.record(state)

    async def record(self, state: FileState, *, at_start: bool = False) -> str | None:
        """Record ``state`` unless it is what the trail already holds; returns the entry id.

        ``at_start``: the files as a process found them when it started (a difference was
        made while no API watched).  Redis errors are logged; the next change retries.
        """
        for _ in range(_ATTEMPTS):
            try:
                digest, raw, refused = await self._redis.hmget(
                    self._files,
                    [f"{state.kind}:digest", f"{state.kind}:snapshot", f"{state.kind}:refused"],
                )
            except RedisError as exc:
                log.warning("file_audit_failed", error=str(exc))
                return None
            recorded = _text(digest)
            if state.accepted and recorded == state.digest:
                return None
            if not state.accepted and _text(refused) == state.digest:
                return None
            old = orjson.loads(raw) if raw and recorded else None
            entry = self._entry(state, diff_summary(old, state), at_start=at_start and bool(old))
            try:
                entry_id = await self._record(
                    keys=[self._files, self._stream],
                    args=[
                        state.kind,
                        recorded,
                        "1" if state.accepted else "0",
                        state.digest,
                        orjson.dumps(state.snapshot, option=orjson.OPT_SORT_KEYS),
                        self._audit.maxlen,
                        *[item for pair in entry.items() for item in pair],
                    ],
                )
            except RedisError as exc:
                log.warning("file_audit_failed", error=str(exc))
                return None
            if entry_id is not None:
                self._audit.append_line(entry)
                return _text(entry_id)
        return None

    def _entry(self, state: FileState, summary: str, *, at_start: bool) -> dict[str, str]:
        names = USERS_FILE if state.kind == "users" else f"{MODEL_FILE}, {POLICY_FILE}"
        if state.accepted:
            when = "found at start-up (edited while no API watched): " if at_start else ""
            detail = f"{when}{summary}"
        else:
            detail = f"refused, the previous version stays in force: {state.error}; {summary}"
        return self._audit.entry(
            user=None,
            role=None,
            action="reloadUsers" if state.kind == "users" else "reloadPolicy",
            resource=f"file {names}",
            outcome=AuditOutcome.ALLOWED if state.accepted else AuditOutcome.DENIED,
            request_id=f"file-{secrets.token_hex(6)}",
            detail=detail,
            source="file",
        )

    async def adopt(self, before: FileState, after: FileState) -> bool:
        """Mark ``after`` as recorded if the trail was at ``before`` (a change that is audited
        by its own entry); True if it moved."""
        if before.digest == after.digest:
            return False
        try:
            moved = await self._adopt(
                keys=[self._files],
                args=[
                    after.kind,
                    before.digest,
                    after.digest,
                    orjson.dumps(after.snapshot, option=orjson.OPT_SORT_KEYS),
                ],
            )
        except RedisError as exc:
            log.warning("file_audit_failed", error=str(exc))
            return False
        return bool(moved)
