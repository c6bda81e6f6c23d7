"""Connecting a dagq process to its Redis: the configured URL, else the embedded server.

``connect()`` hands back a :class:`Connection` (client, key layout, settings) after a
PING, so a process learns at start-up, in one readable sentence, that Redis is not
there: ``cannot reach Redis at redis://db:6379/0: connection refused``.
"""

from __future__ import annotations

import asyncio
import errno
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis

from orchestrator.errors import Unavailable
from orchestrator.keys import Keys
from orchestrator.logs import register_secret
from orchestrator.settings import Settings
from orchestrator.store.embedded import EmbeddedRedis

# XAUTOCLAIM (crashed workers' jobs) and GETDEL arrived in Redis 6.2.
MIN_REDIS_VERSION = (6, 2)
_CONNECT_TIMEOUT_S = 5.0
_POOL_WAIT_S = 30.0
MAX_CONNECTIONS = 256
_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
    errno.ENOENT: "no such socket file",
    errno.EACCES: "permission denied",
}


def redact_url(url: str) -> str:
    """``url`` without its password, fit for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable Redis URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _keep_out_of_logs(url: str) -> None:
    """The URL's password never appears in a log line, even outside the URL."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        register_secret(password)
        register_secret(unquote(password))


def _reason(exc: BaseException) -> str:
    """The human part of a redis-py connection error ('connection refused', ...)."""
    text = str(exc) or type(exc).__name__
    # redis-py says "Error 111 connecting to host:port. Connect call failed (...)."
    code = re.match(r"Error (\d+) ", text)
    match = re.search(r"connecting to [^ ]+\.\s*(.+?)\.?$", text)
    if code and int(code.group(1)) in _ERRNO_WORDS:
        text = _ERRNO_WORDS[int(code.group(1))]
    elif match:
        text = match.group(1)
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else type(exc).__name__


def describe_error(url: str, exc: BaseException) -> Unavailable:
    """An :class:`Unavailable` saying, in words, why ``url`` could not be used."""
    where = redact_url(url)
    if isinstance(exc, redis.AuthenticationError):
        why = "authentication failed (wrong or missing password)"
    elif isinstance(exc, redis.TimeoutError):
        why = "timed out"
    else:
        why = _reason(exc)
    return Unavailable(f"cannot reach Redis at {where}: {why}", details={"url": where})


def embedded_redis(settings: Settings) -> EmbeddedRedis:
    """The data dir's embedded server, with the configured ``redis.embedded_fsync``."""
    return EmbeddedRedis(settings.data_dir, fsync=settings.redis.embedded_fsync)


def redis_url_for(settings: Settings, *, stay: bool = False) -> str:
    """The Redis URL this process should use, starting the embedded server if needed.

    When this call starts the embedded server, this process owns it and it is stopped
    at interpreter exit unless ``stay`` is set; use :func:`connect` to control that.
    """
    if settings.redis_url:
        return settings.redis_url
    return embedded_redis(settings).ensure(stay=stay)


@dataclass(eq=False)
class Connection:
    """A live Redis client with the deployment's key layout and settings."""

    redis: aioredis.Redis
    keys: Keys
    settings: Settings
    url: str
    embedded: EmbeddedRedis | None = None
    server_version: str = ""
    _closed: bool = field(default=False, repr=False)

    @property
    def safe_url(self) -> str:
        """The URL without its password."""
        return redact_url(self.url)

    async def aclose(self) -> None:
        """Close the client; stop the embedded server if this process started it."""
        if self._closed:
            return
        self._closed = True
        await self.redis.aclose()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.close)

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = re.match(r"\d+", piece)
        parts.append(int(digits.group()) if digits else 0)
    return tuple(parts)


async def _server_version(client: aioredis.Redis) -> str:
    """The server's version, ``""`` when INFO is disabled (some managed services rename it)."""
    try:
        info = await client.info("server")
    except redis.ResponseError:
        return ""
    return str(info.get("redis_version", ""))


async def connect(settings: Settings, *, stay: bool = False) -> Connection:
    """Connect to ``settings.redis_url`` or the embedded server, and check it answers.

    Raises :class:`Unavailable` with a readable message when Redis cannot be reached,
    refuses the password, or is older than 6.2.
    """
    embedded: EmbeddedRedis | None = None
    if settings.redis_url:
        url = settings.redis_url
        _keep_out_of_logs(url)
    else:
        embedded = embedded_redis(settings)
        url = await asyncio.to_thread(embedded.ensure, stay=stay)
    try:
        # A blocking pool: a burst of concurrent callers waits for a connection instead
        # of failing with "Too many connections" as the default pool does at 100.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=_POOL_WAIT_S,
            socket_connect_timeout=_CONNECT_TIMEOUT_S,
        )
        client = aioredis.Redis.from_pool(pool)
    except ValueError as exc:
        raise Unavailable(f"invalid Redis URL {redact_url(url)}: {exc}") from None
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        await client.aclose()
        if embedded is not None:
            await asyncio.to_thread(embedded.close)
        raise describe_error(url, exc) from None
    version = await _server_version(client)
    if version and _parse_version(version) < MIN_REDIS_VERSION:
        await client.aclose()
        raise Unavailable(
            f"Redis {version} at {redact_url(url)} is too old: dagq needs Redis 6.2 or newer"
        )
    keys = Keys(prefix=settings.workflow.storage.prefix, shards=settings.queue.shards)
    return Connection(
        redis=client,
        keys=keys,
        settings=settings,
        url=url,
        embedded=embedded,
        server_version=version,
    )
