"""The users file ``<policies dir>/users.yaml``: roles, hashed API keys, hashed passwords.

API keys look like ``dagq_<key id>_<secret>``: the 8-character key id finds the
record, and only ``sha256(secret)`` is stored. Keys carry 256 random bits, so a fast
hash is right and keeps per-request verification cheap; passwords are chosen by
people and get argon2id, slow on purpose. No plaintext secret ever reaches the disk.
Every change is written atomically (temp file + ``os.replace``) with mode 0600,
under a file lock so two ``dagq user`` commands cannot lose each other's edits, and
a role change also rewrites the user's ``g`` line in ``policy.csv``.

No change may leave the users without an enabled admin when they had one (an empty
``users.yaml`` locks everyone out): ``dagq user`` refuses such a change, and a hand edit
that does it is refused on reload, the previous users staying in force.  Every reload,
accepted or refused, is queued as a :class:`UsersChange` for the audit trail.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.errors import BadRequest, ConfigError, Conflict, NotFound
from orchestrator.security.policy_file import (
    POLICY_FILE,
    USERS_FILE,
    atomic_write,
    file_lock,
    set_user_role,
)
from orchestrator.security.rbac import ROLES

log = structlog.get_logger(__name__)

KEY_PREFIX = "dagq_"
KEY_ID_LEN = 8
ROLE_ALIASES: dict[str, str] = {
    "designer": "workflow_designer",
    "operator": "workflow_operator",
    "admin": "workflow_admin",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_KEY = re.compile(r"^dagq_([A-Za-z0-9_-]{8})_([A-Za-z0-9_-]{20,100})$")
_MIN_PASSWORD = 8
_MAX_PASSWORD = 1024
_HEADER = (
    "# dagq users. Managed by `dagq user add|rm|rotate|passwd`; roles live in policy.csv\n"
    "# (g lines). Only hashes are stored: sha256 of each API key's secret, argon2id of\n"
    "# passwords. Keep this file private (mode 0600).\n"
)
_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
_CHANGES_KEPT = 20
ADMIN_ROLE = "workflow_admin"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class ApiKeyRecord(BaseModel):
    """One API key as stored: its public id and the sha256 of its secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{8}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created: datetime


class User(BaseModel):
    """A user record (never holds a plaintext secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: str
    api_keys: tuple[ApiKeyRecord, ...] = ()
    password_hash: str | None = None
    created: datetime
    updated: datetime
    disabled: bool = False

    @property
    def has_password(self) -> bool:
        """True when a web-login password is set."""
        return self.password_hash is not None


def users_summary(users: dict[str, User]) -> dict[str, dict[str, Any]]:
    """What the audit trail compares between two versions of the users: roles, state, key
    ids, and whether (not what) the password changed; never a secret or a usable hash."""
    return {
        name: {
            "role": user.role,
            "disabled": user.disabled,
            "keys": [key.id for key in user.api_keys],
            "password": hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]
            if user.password_hash
            else None,
        }
        for name, user in sorted(users.items())
    }


def admins(users: dict[str, User]) -> tuple[str, ...]:
    """Enabled users with the admin role."""
    return tuple(n for n, u in sorted(users.items()) if u.role == ADMIN_ROLE and not u.disabled)


@dataclass(frozen=True, slots=True)
class UsersChange:
    """One reload of ``users.yaml`` as the audit trail records it: accepted or refused."""

    accepted: bool
    error: str | None
    summary: dict[str, dict[str, Any]]
    """:func:`users_summary` of the file judged (of the users in force when refused
    because it did not parse)."""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def digest(self) -> str:
        """Content hash of the summary."""
        return hashlib.sha256(orjson.dumps(self.summary, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _keeps_admin(old: dict[str, User], new: dict[str, User]) -> str | None:
    """Why ``new`` may not replace ``old`` (no enabled admin left), or None."""
    if admins(old) and not admins(new):
        return (
            "invariant 'keeps-an-admin' fails (someone must be able to administer dagq): "
            f"no enabled {ADMIN_ROLE} would be left (now: {', '.join(admins(old)[:5])})"
        )
    return None


class _UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    users: dict[str, User] = Field(default_factory=dict)


def normalize_role(role: str) -> str:
    """A role name from a full name or an alias (designer/operator/admin); BadRequest if neither."""
    value = role.strip().lower()
    value = ROLE_ALIASES.get(value, value)
    if value not in ROLES:
        allowed = ", ".join([*ROLES, *ROLE_ALIASES])
        raise BadRequest(f"unknown role {role!r}; use one of: {allowed}")
    return value


def check_name(name: str) -> str:
    """Validate a user name: 1-64 of letters, digits, ``._@-``, not a role name."""
    if not _NAME.fullmatch(name):
        raise BadRequest(
            f"invalid user name {name!r}: 1-64 letters, digits or . _ @ -, "
            "starting with a letter or digit"
        )
    if name in ROLES or name in ROLE_ALIASES:
        raise BadRequest(f"{name!r} is a role name and cannot be a user name")
    return name


def parse_key(key: str) -> tuple[str, str] | None:
    """Split ``dagq_<id>_<secret>`` into (id, secret); None when it is not shaped like a key."""
    match = _KEY.fullmatch(key) if len(key) <= 200 else None
    return (match.group(1), match.group(2)) if match else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_DUMMY_DIGEST = _digest("dagq-no-such-key")


def check_password(password: str) -> None:
    """BadRequest unless ``password`` has an acceptable length."""
    if not _MIN_PASSWORD <= len(password) <= _MAX_PASSWORD:
        raise BadRequest(f"a password needs {_MIN_PASSWORD} to {_MAX_PASSWORD} characters")


class UserStore:
    """Users of one policies directory, loaded from ``users.yaml`` and kept in step with it."""

    def __init__(self, path: Path, *, policy_path: Path | None = None) -> None:
        self.path = Path(path)
        self.policy_path = policy_path or self.path.parent / POLICY_FILE
        self._lock_path = self.path.parent / f".{self.path.name}.lock"
        self._users: dict[str, User] = {}
        self._key_index: dict[str, tuple[str, str]] = {}
        self._stamp: tuple[int, int, int] | None = None
        self.last_error: str | None = None
        self._changes: builtins.list[UsersChange] = []
        if not self.path.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create {self.path.parent}: {exc}") from None
            with file_lock(self._lock_path):
                if not self.path.exists():
                    self._write({})
        ensure_private(self.path)
        self._load()

    @classmethod
    def in_dir(cls, policies_dir: Path) -> UserStore:
        """The store of ``<policies_dir>/users.yaml``."""
        return cls(Path(policies_dir) / USERS_FILE)

    # -- reading -----------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _parse(self) -> dict[str, User]:
        try:
            raw = yaml.safe_load(self.path.read_text("utf-8")) or {}
            parsed = _UsersFile.model_validate(raw)
        except FileNotFoundError:
            raise ConfigError(f"users file {self.path} is missing") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read users file {self.path}: {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"users file {self.path}: {where}: {first['msg']}") from None
        for name, user in parsed.users.items():
            if user.name != name:
                raise ConfigError(f"users file {self.path}: entry {name!r} names {user.name!r}")
        return parsed.users

    def _load(self) -> None:
        stamp = self._file_stamp()
        self._set(self._parse())
        self._stamp = stamp
        self.last_error = None

    def _set(self, users: dict[str, User]) -> None:
        self._users = dict(users)
        self._key_index = {
            key.id: (user.name, key.sha256) for user in users.values() for key in user.api_keys
        }

    def reload_if_changed(self) -> bool:
        """Re-read the file if its mtime, size or inode changed; True if it was reloaded.

        A file that no longer parses, or that would leave no enabled admin, is logged,
        shown in :attr:`last_error`, and the last good users stay in force.
        """
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            users = self._parse()
            why = _keeps_admin(self._users, users)
            if why is not None:
                raise ConfigError(f"users file {self.path} refused: {why}")
        except ConfigError as exc:
            self.last_error = f"{exc.message}; the previous users stay in force"
            self._note(UsersChange(False, exc.message, users_summary(self._users)))
            log.error("users_file_rejected", path=str(self.path), error=exc.message)
            return False
        self._set(users)
        self.last_error = None
        self._note(UsersChange(True, None, users_summary(users)))
        return True

    def _note(self, change: UsersChange) -> None:
        self._changes.append(change)
        del self._changes[:-_CHANGES_KEPT]

    def disk_digest(self) -> str | None:
        """The digest (:attr:`UsersChange.digest`) of the file as it is now; None if unreadable."""
        try:
            return UsersChange(True, None, users_summary(self._parse())).digest
        except ConfigError:
            return None

    def in_force(self) -> UsersChange:
        """The users in force, as a change record (what start-up hands the audit trail)."""
        return UsersChange(True, None, users_summary(self._users))

    def take_changes(self) -> builtins.list[UsersChange]:
        """Reloads since the last call, oldest first (the caller audits them)."""
        changes, self._changes = self._changes, []
        return changes

    def list(self) -> builtins.list[User]:
        """Every user, by name."""
        self.reload_if_changed()
        return [self._users[name] for name in sorted(self._users)]

    def get(self, name: str) -> User | None:
        """The user called ``name``, or None."""
        self.reload_if_changed()
        return self._users.get(name)

    # -- verification ------------------------------------------------------------
    def verify_key(self, key: str) -> User | None:
        """The enabled user owning API key ``key``, or None (wrong, revoked or malformed)."""
        self.reload_if_changed()
        parsed = parse_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        entry = self._key_index.get(key_id)
        # Compare even for an unknown id, so timing says little about which ids exist.
        expected = entry[1] if entry else _DUMMY_DIGEST
        if not hmac.compare_digest(_digest(secret), expected) or entry is None:
            return None
        user = self._users.get(entry[0])
        return user if user is not None and not user.disabled else None

    def verify_password(self, name: str, password: str) -> User | None:
        """The enabled user if ``password`` is theirs, else None; unknown users cost the same.

        argon2id takes tens of milliseconds of CPU on purpose: call it from a thread
        (``asyncio.to_thread``) on an event loop.
        """
        self.reload_if_changed()
        user = self._users.get(name)
        stored = user.password_hash if user is not None else None
        try:
            _hasher.verify(stored or _dummy_hash(), password[:_MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        if user is None or stored is None or user.disabled:
            return None
        return user

    # -- changes -----------------------------------------------------------------
    def _write(self, users: dict[str, User]) -> None:
        doc = {
            "version": 1,
            "users": {name: users[name].model_dump(mode="json") for name in sorted(users)},
        }
        body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
        atomic_write(self.path, _HEADER + body, mode=0o600)

    def _mutate(
        self,
        change: Callable[[dict[str, User]], None],
        *,
        policy: tuple[str, str | None] | None = None,
    ) -> None:
        """Apply ``change`` to the users on disk under the lock; ``policy`` = (user, role) to
        rewrite in policy.csv under the same lock (None role removes the user's lines)."""
        with file_lock(self._lock_path):
            self._load()  # always from disk: another process may have written since
            users = dict(self._users)
            change(users)
            why = _keeps_admin(self._users, users)
            if why is not None:
                raise Conflict(
                    f"refused: {why}. Give another user the admin role first "
                    "(dagq user role NAME admin)."
                )
            self._write(users)
            if policy is not None:
                set_user_role(self.policy_path, policy[0], policy[1])
            self._load()

    def _require(self, users: dict[str, User], name: str) -> User:
        user = users.get(name)
        if user is None:
            raise NotFound(f"no user called {name!r}")
        return user

    def add(self, name: str, role: str, *, password: str | None = None) -> tuple[User, str]:
        """Create a user with ``role`` (aliases accepted) and one API key; returns (user, key).

        The plaintext key is returned once and never stored.
        """
        check_name(name)
        role = normalize_role(role)
        if password is not None:
            check_password(password)
        pw_hash = _hasher.hash(password) if password is not None else None
        key, record = self._new_key()

        def change(users: dict[str, User]) -> None:
            if name in users:
                raise Conflict(f"user {name!r} exists already")
            now = _now()
            users[name] = User(
                name=name,
                role=role,
                api_keys=(record,),
                password_hash=pw_hash,
                created=now,
                updated=now,
            )

        self._mutate(change, policy=(name, role))
        return self._users[name], key

    def remove(self, name: str) -> None:
        """Delete the user (its keys stop working at once) and its role lines."""

        def change(users: dict[str, User]) -> None:
            self._require(users, name)
            del users[name]

        self._mutate(change, policy=(name, None))

    def rotate(self, name: str) -> str:
        """Issue a new API key for ``name`` and revoke all its older keys; returns the new key."""
        key, record = self._new_key()

        def change(users: dict[str, User]) -> None:
            user = self._require(users, name)
            users[name] = user.model_copy(update={"api_keys": (record,), "updated": _now()})

        self._mutate(change)
        return key

    def set_password(self, name: str, password: str | None) -> None:
        """Set (argon2id-hashed) or clear (None) the user's web-login password."""
        if password is not None:
            check_password(password)
        pw_hash = _hasher.hash(password) if password is not None else None

        def change(users: dict[str, User]) -> None:
            user = self._require(users, name)
            users[name] = user.model_copy(update={"password_hash": pw_hash, "updated": _now()})

        self._mutate(change)

    def set_role(self, name: str, role: str) -> User:
        """Give ``name`` a new role, in users.yaml and in policy.csv."""
        role = normalize_role(role)

        def change(users: dict[str, User]) -> None:
            user = self._require(users, name)
            users[name] = user.model_copy(update={"role": role, "updated": _now()})

        self._mutate(change, policy=(name, role))
        return self._users[name]

    def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable (keys and password refused) or re-enable a user without deleting it."""

        def change(users: dict[str, User]) -> None:
            user = self._require(users, name)
            users[name] = user.model_copy(update={"disabled": disabled, "updated": _now()})

        self._mutate(change)
        return self._users[name]

    def _new_key(self) -> tuple[str, ApiKeyRecord]:
        while True:
            key_id = secrets.token_urlsafe(6)  # 6 bytes -> exactly 8 url-safe characters
            if key_id not in self._key_index:
                break
        secret = secrets.token_urlsafe(32)
        record = ApiKeyRecord(id=key_id, sha256=_digest(secret), created=_now())
        return f"{KEY_PREFIX}{key_id}_{secret}", record


_dummy: list[str] = []


def _dummy_hash() -> str:
    """An argon2id hash of a random string, made once, to verify against for unknown users."""
    if not _dummy:
        _dummy.append(_hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[0]


def ensure_private(path: Path) -> None:
    """Tighten ``path`` to 0600 if someone loosened it (the file holds hashes)."""
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass
