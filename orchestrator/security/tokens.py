"""Short-lived HS256 bearer tokens for logged-in (web) users.

The API verifies them with the same secret it minted them with: the configured
``api.jwt_secret`` (shared by every replica) or a random one kept in the data dir.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt

from orchestrator.errors import ConfigError, Unauthorized
from orchestrator.logs import register_secret

ISSUER = "dagq"
ALGORITHM = "HS256"
SECRET_FILE = "jwt.secret"
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4096
_REQUIRED = ["sub", "role", "iat", "exp", "jti", "iss"]
# A compact JWS: three base64url parts.  Anything else (a stranger's bytes that are not
# even UTF-8 included) is refused before PyJWT sees it.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified contents of a token."""

    sub: str
    """User name."""
    role: str
    """Role when the token was minted (the API still asks the live policy)."""
    iat: int
    exp: int
    jti: str
    iss: str = ISSUER


def _check_secret(secret: str) -> str:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes long")
    return secret


def mint(user: str, role: str, *, secret: str, ttl_s: float = 900, now: float | None = None) -> str:
    """A signed token for ``user`` valid ``ttl_s`` seconds from ``now`` (default: the clock)."""
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    issued = int(time.time() if now is None else now)
    payload = {
        "sub": user,
        "role": role,
        "iat": issued,
        "exp": issued + max(1, int(ttl_s)),
        "jti": uuid.uuid4().hex,
        "iss": ISSUER,
    }
    return jwt.encode(payload, _check_secret(secret), algorithm=ALGORITHM)


def verify(token: str, *, secret: str) -> Claims:
    """The claims of a valid token; :class:`Unauthorized` "token expired" or "invalid token"."""
    key = _check_secret(secret)
    if not is_compact_jws(token):
        raise Unauthorized("invalid token")
    try:
        data = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # pinned: never let the token pick "none" or RS/HS confusion
            issuer=ISSUER,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("invalid token") from None
    try:
        claims = Claims(
            sub=_str(data["sub"]),
            role=_str(data["role"]),
            iat=int(data["iat"]),
            exp=int(data["exp"]),
            jti=_str(data["jti"]),
            iss=_str(data["iss"]),
        )
    except (TypeError, ValueError):
        raise Unauthorized("invalid token") from None
    return claims


def is_compact_jws(token: str) -> bool:
    """Whether ``token`` is shaped like a JWT (three base64url parts, at most 4,096 chars)."""
    return len(token) <= MAX_TOKEN_CHARS and _COMPACT_JWS.fullmatch(token) is not None


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("claim must be a non-empty string")
    return value


def load_or_create_secret(data_dir: Path, *, configured: str | None = None) -> str:
    """The token secret: ``configured`` (``settings.api.jwt_secret``) if given, else the one in
    ``<data_dir>/jwt.secret``, created (32 random bytes, mode 0600) on first use.

    Creation is race-free between processes: the file appears complete or not at all.
    """
    if configured:
        register_secret(configured)
        return _check_secret(configured)
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".jwt.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as handle:
                    os.fchmod(handle.fileno(), 0o600)
                    handle.write(secrets.token_hex(32) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                # link() fails if another process won the race; then its secret is used.
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                os.unlink(tmp)
        except OSError as exc:
            raise ConfigError(f"cannot create the JWT secret {path}: {exc}") from None
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        secret = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the JWT secret {path}: {exc}") from None
    register_secret(secret)
    try:
        return _check_secret(secret)
    except ConfigError:
        raise ConfigError(
            f"the JWT secret in {path} is too short; delete it to make a new one"
        ) from None
