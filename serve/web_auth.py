"""The web tier's small security pieces, free of HTTP and of state: sessions, CSRF, origins.

Everything here is pure so it can be tested alone; ``serve.server`` wires it to aiohttp, and
what must be shared by replicas and survive restarts (sign-outs, the one-time sign-in link,
sign-in throttling) lives in Redis (``serve.web_store``).  Keys are derived from one server
secret with a purpose label (HMAC), so a session cookie can never pass as an API bearer token
or a CSRF signature, even when the web tier and the API share that secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeGuard
from urllib.parse import urlsplit

import jwt

from orchestrator.errors import ConfigError
from orchestrator.security.tokens import is_compact_jws

SESSION_AUDIENCE = "dagq-web-session"
_MAX_NAME = 128
# What our form tokens are made of.  A stranger's cookie of "\xff" reaches us as a lone
# surrogate that neither PyJWT nor hmac can encode: refuse it here, not with a 500.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.~-]+")
_HOST = re.compile(r"(?:[A-Za-z0-9_.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def _token_shaped(value: str | None, max_chars: int = 256) -> TypeGuard[str]:
    return (
        value is not None and len(value) <= max_chars and _TOKEN_CHARS.fullmatch(value) is not None
    )


class UserLike(Protocol):
    """What the web tier needs to know about a verified user."""

    @property
    def name(self) -> str:
        """The user's login name."""
        ...

    @property
    def role(self) -> str:
        """The user's role (``workflow_designer``, ``workflow_operator``, ``workflow_admin``)."""
        ...

    @property
    def disabled(self) -> bool:
        """True when an admin has disabled the account."""
        ...


class UserDirectory(Protocol):
    """The users file as the web tier sees it (``orchestrator.security.users.UserStore``)."""

    def verify_password(self, name: str, password: str) -> UserLike | None:
        """The user when the password is right, else ``None`` (never says which part was wrong)."""
        ...

    def get(self, name: str) -> UserLike | None:
        """The user called ``name`` as the file says now, or ``None``."""
        ...


TokenMinter = Callable[[str, str], str]
"""``(user, role) -> bearer token``: a short-lived API token handed to a user's app process."""


def derive_key(secret: str | bytes, purpose: str) -> bytes:
    """A key for one purpose, derived from the server secret (HMAC-SHA256 with a label)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < 16:
        raise ConfigError("the web server secret must be at least 16 bytes long")
    return hmac.new(raw, f"dagq-web:{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Session:
    """A logged-in browser: who, which role, its id (for logout) and when it ends (epoch s)."""

    user: str
    role: str
    sid: str
    expires_at: float


class SessionCodec:
    """Issues and reads the signed session cookie (an HS256 JWT with expiry and audience)."""

    def __init__(
        self, secret: str | bytes, *, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        if ttl_s <= 0:
            raise ConfigError("the session lifetime must be positive")
        self._key = derive_key(secret, "session")
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, user: str, role: str) -> tuple[str, Session]:
        """A new session for ``user``: the cookie value and what it says."""
        now = self._clock()
        session = Session(user, role, secrets.token_urlsafe(16), now + self.ttl_s)
        claims = {
            "sub": user,
            "role": role,
            "sid": session.sid,
            "aud": SESSION_AUDIENCE,
            "iat": int(now),
            "exp": int(session.expires_at),
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), session

    def read(self, token: str | None) -> Session | None:
        """The session in a cookie value; ``None`` if missing, forged or expired (whether it
        was signed out is for ``web_store.SessionRevocations`` to say)."""
        if not token or not is_compact_jws(token):
            return None
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=SESSION_AUDIENCE,
                options={"require": ["sub", "role", "sid", "exp", "aud"], "verify_exp": False},
            )
        except jwt.PyJWTError:
            return None
        user, role, sid, exp = claims["sub"], claims["role"], claims["sid"], claims["exp"]
        if not (isinstance(user, str) and isinstance(role, str) and isinstance(sid, str)):
            return None
        if not isinstance(exp, int | float) or exp <= self._clock():
            # Checked here rather than by PyJWT so the injected clock rules (tests, no sleeps).
            return None
        return Session(user, role, sid, float(exp))


class CsrfGuard:
    """Double-submit CSRF tokens: a random value in a signed cookie and in the form's hidden field.

    Forms shown to a logged-in user (logout) use a token bound to the session id instead.
    """

    def __init__(self, secret: str | bytes) -> None:
        self._key = derive_key(secret, "csrf")

    def new_token(self) -> str:
        """A fresh random token for a login form."""
        return secrets.token_urlsafe(24)

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def cookie_value(self, token: str) -> str:
        """The cookie that goes with ``token``: the token and its signature."""
        return f"{token}.{self._sign('form:' + token)}"

    def check(self, cookie: str | None, field: str | None) -> bool:
        """True when the cookie is ours (signature) and its token equals the submitted field."""
        if not _token_shaped(cookie) or not _token_shaped(field):
            return False
        token, _, signature = cookie.rpartition(".")
        if not token or not hmac.compare_digest(signature, self._sign("form:" + token)):
            return False
        return hmac.compare_digest(token.encode(), field.encode())

    def session_token(self, session: Session) -> str:
        """The token of forms posted by a logged-in user (bound to the session id)."""
        return self._sign("session:" + session.sid)

    def check_session(self, session: Session, field: str | None) -> bool:
        """True when ``field`` is the session-bound token of ``session``."""
        if not _token_shaped(field):
            return False
        return hmac.compare_digest(field.encode(), self.session_token(session).encode())


def normalise_origin(url: str) -> str | None:
    """``scheme://host[:port]``, lower case, default port dropped; ``None`` if not a URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in {"http", "https"} or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in {("http", 80), ("https", 443)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """The address sign-in throttling counts: the peer, or, when the peer is on this host or a
    private network (a reverse proxy), the address that proxy appended to ``X-Forwarded-For``.

    Only the last entry is taken: earlier ones are whatever the client sent.  A client that
    reaches the server directly from a public address cannot choose its address this way.
    """
    if not peer:
        return "unknown"
    try:
        direct = ipaddress.ip_address(peer)
    except ValueError:
        return peer[:64]
    if forwarded_for and (direct.is_loopback or direct.is_private):
        last = forwarded_for.split(",")[-1].strip()
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(last))
    return str(direct)


def first_header_value(value: str | None) -> str | None:
    """The first item of a comma-separated forwarded header (the client-facing proxy's)."""
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first or None


def base_url(
    public_url: str | None,
    *,
    scheme: str,
    host: str,
    forwarded_proto: str | None = None,
    forwarded_host: str | None = None,
) -> str:
    """The URL the browser uses to reach us, without a trailing slash.

    ``public_url`` wins; else ``X-Forwarded-Proto``/``X-Forwarded-Host`` (set by a reverse
    proxy); else the request's own scheme and ``Host``.
    """
    if public_url:
        return public_url.rstrip("/")
    proto = (first_header_value(forwarded_proto) or scheme).lower()
    if proto not in {"http", "https"}:
        proto = scheme
    forwarded = first_header_value(forwarded_host)
    # A Host that is not a host name (a stranger's "\xff") would make a Location header
    # that cannot be encoded: ignore the forwarded one, and refuse a bad Host outright.
    chosen = forwarded if forwarded and _HOST.fullmatch(forwarded) else host
    if not _HOST.fullmatch(chosen):
        raise ValueError(f"not a host name: {chosen!r}")
    return f"{proto}://{chosen}"
