"""What the web tier must remember beyond one process, kept in Redis: sign-outs and sign-in links.

The session cookie is signed with the persistent server secret, so it outlives the process that
issued it; a sign-out must outlive it too.  A signed-out session id is stored until the session
would have expired anyway (then the cookie is refused on its own), so a restart or a second
replica refuses the cookie as well.

The one-time sign-in link (printed at start, as Jupyter does) is stored by the sha256 of its
token, naming the user it signs in, and consumed with one ``GETDEL``: good exactly once on any
replica.  It lives while the server that printed it runs: that server refreshes its expiry
(``ttl_s``) until it is used, and withdraws it on a clean stop; after a kill it expires alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from orchestrator.errors import Unavailable
from orchestrator.keys import Keys
from orchestrator.security.ratelimit import LoginThrottle

LINK_TTL_S = 600
_MAX_TOKEN = 256


def _unavailable(exc: RedisError) -> Unavailable:
    return Unavailable(f"the sign-in store (Redis) is unavailable: {exc}")


class SessionRevocations:
    """Signed-out session ids, each kept for the rest of its session's life."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock

    async def revoke(self, session_id: str, expires_at: float) -> None:
        """Void ``session_id`` until ``expires_at`` (epoch s); :class:`Unavailable` on failure."""
        left_ms = int((expires_at - self._clock()) * 1000)
        if left_ms <= 0:
            return  # expired already: the cookie is refused without help
        try:
            await self._redis.set(self._keys.web_revoked(session_id), "1", px=left_ms)
        except RedisError as exc:
            raise _unavailable(exc) from None

    async def is_revoked(self, session_id: str) -> bool:
        """Whether ``session_id`` was signed out; :class:`Unavailable` when it cannot be told."""
        try:
            return bool(await self._redis.exists(self._keys.web_revoked(session_id)))
        except RedisError as exc:
            raise _unavailable(exc) from None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OneTimeLink:
    """This server's one-time sign-in link, and the consumer of any replica's links."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, *, ttl_s: int = LINK_TTL_S) -> None:
        self._redis = redis
        self._keys = keys
        self.ttl_s = ttl_s
        self.token = secrets.token_urlsafe(32)
        self._key = keys.web_link(_digest(self.token))

    async def publish(self, user: str) -> None:
        """Make this server's link sign ``user`` in, once, for ``ttl_s`` (kept alive by
        :meth:`keep_alive`)."""
        try:
            await self._redis.set(self._key, user, ex=self.ttl_s)
        except RedisError as exc:
            raise _unavailable(exc) from None

    async def keep_alive(self) -> bool:
        """Push the expiry of the unused link back; False once it is used or gone."""
        try:
            return bool(await self._redis.expire(self._key, self.ttl_s))  # 0: used or gone
        except RedisError:
            return True  # try again on the next tick; the link simply lives on meanwhile

    async def withdraw(self) -> None:
        """Void the link if it is still unused (the server stops)."""
        with contextlib.suppress(RedisError):  # else it expires on its own
            await self._redis.delete(self._key)

    async def consume(self, candidate: str | None) -> str | None:
        """The user a link signs in, spending it (any replica's); None if unknown or used."""
        if not candidate or len(candidate) > _MAX_TOKEN:
            return None
        try:
            user = await self._redis.getdel(self._keys.web_link(_digest(candidate)))
        except RedisError as exc:
            raise _unavailable(exc) from None
        if user is None:
            return None
        return user.decode() if isinstance(user, bytes) else str(user)


class WebStore:
    """The web tier's shared state over one Redis connection."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        *,
        throttle: LoginThrottle | None = None,
        link_ttl_s: int = LINK_TTL_S,
    ) -> None:
        self.revocations = SessionRevocations(redis, keys)
        self.link = OneTimeLink(redis, keys, ttl_s=link_ttl_s)
        self.throttle = throttle or LoginThrottle(redis, keys)
        """Failed sign-ins per user and address (default: 5 and 10 in 5 minutes)."""
