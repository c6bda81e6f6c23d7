"""Connecting a dagq process to its Redis: the configured URL, else the embedded server.

``connect()`` hands back a :class:`Connection` (client, key layout, settings) after a
PING, so a process learns at start-up, in one readable sentence, that Redis is not
there: ``cannot reach Redis at redis://db:6379/0: connection refused``.

``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster://`` for
TLS) selects redis-py's ``RedisCluster``: any node or several seed the client, which
finds the rest.  :func:`make_client` and :func:`make_sync_client` are the one place a
Redis client is built from a URL, for every dagq process (API, workers, orchestrators,
web, CLI, bench).
"""

from __future__ import annotations

import asyncio
import errno
import re
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
import redis.cluster
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import (
    ClusterDownError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)

from orchestrator.errors import Unavailable
from orchestrator.keys import Keys
from orchestrator.logs import register_secret
from orchestrator.settings import Settings
from orchestrator.store.embedded import EmbeddedRedis
from orchestrator.store.packing import packed_by_hiredis
from orchestrator.store.replicas import RIDE_THROUGH_S

# XAUTOCLAIM (crashed workers' jobs) and GETDEL arrived in Redis 6.2.
MIN_REDIS_VERSION = (6, 2)
_CONNECT_TIMEOUT_S = 5.0
_POOL_WAIT_S = 30.0
MAX_CONNECTIONS = 256
# redis-py's cluster pool raises at once (no waiting) when a node's pool is exhausted:
# room for bursts of concurrent requests and every blocking reader.
CLUSTER_MAX_CONNECTIONS = 1024
# Longer than any blocking read dagq issues (at most 2 s), short enough to notice a
# frozen node; redis-py's cluster default is 5 s.
CLUSTER_SOCKET_TIMEOUT_S = 10.0
# How long one command keeps retrying (with backoff) while the cluster cannot serve it:
# a failover with cluster-node-timeout 2 s completes in about 4 s.  Longer outages
# reach the caller as ConnectionError; every dagq loop backs off and retries those.
CLUSTER_RIDE_THROUGH_S = RIDE_THROUGH_S
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
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
    # "Redis Cluster unavailable: cannot be connected ..." wraps the last node's error.
    while exc.__cause__ is not None and (
        isinstance(exc, RedisClusterException) or str(exc).startswith("Redis Cluster unavailable")
    ):
        exc = exc.__cause__
    if isinstance(exc, redis.AuthenticationError):
        why = "authentication failed (wrong or missing password)"
    elif isinstance(exc, redis.TimeoutError):
        why = "timed out"
    else:
        why = _reason(exc)
    return Unavailable(f"cannot reach Redis at {where}: {why}", details={"url": where})


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://`` or ``rediss+cluster://``)."""
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> tuple[str, list[tuple[str, int]]]:
    """``(plain URL of the first node, [(host, port), ...])`` of a cluster URL.

    The plain URL keeps the credentials and query options (``ssl_ca_certs=...``); the
    list holds every seed.  Raises ``ValueError`` with a readable reason.
    """
    scheme, _, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower())
    if plain is None:
        raise ValueError("a cluster URL starts with redis+cluster:// or rediss+cluster://")
    netloc, slash, tail = rest.partition("/")
    netloc, query_mark, query = netloc.partition("?")
    if query_mark:
        tail = f"?{query}"
        slash = "/"
    userinfo, at, hosts = netloc.rpartition("@")
    path = tail.partition("?")[0]
    if path not in ("", "0"):
        raise ValueError(f"a Redis Cluster has only database 0, not /{path}")
    seeds: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, colon, port_text = item.strip().rpartition(":")
        if not colon or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{item.strip()!r} is not HOST:PORT")
        seeds.append((host.strip("[]"), int(port_text)))
    first = f"{hosts.split(',')[0].strip()}"
    return f"{plain}://{userinfo}{at}{first}{slash}{tail}", seeds


def _cluster_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means "the cluster cannot serve this now" (a failover under way, no
    node reachable) rather than a refused command."""
    if isinstance(exc, (ClusterDownError, TryAgainError, SlotNotCoveredError)):
        return True
    if isinstance(exc, RedisClusterException):
        text = str(exc)
        return isinstance(exc.__cause__, (redis.ConnectionError, redis.TimeoutError, OSError)) or (
            text.startswith(("Redis Cluster cannot be connected", "All slots are not covered"))
        )
    return False


def _lost_writer(exc: AttributeError) -> bool:
    """redis-py 8.1's cluster client can write to a connection another task has just
    dropped while re-reading the layout (``'NoneType' object has no attribute
    'writelines'``): a lost connection, not a bug of the caller."""
    return "'NoneType' object has no attribute" in str(exc)


class _Cluster(RedisCluster):
    """redis-py's cluster client whose outages are ``redis.ConnectionError``s.

    redis-py raises ``CLUSTERDOWN`` as a ``ResponseError`` and an unreachable cluster as
    ``RedisClusterException`` (not even a ``RedisError``); every dagq loop already backs
    off and retries on ``ConnectionError``, and takes a ``ResponseError`` for a refused
    command (a worker would drop a result as unacceptable).  One translation here keeps
    every caller right during a failover.
    """

    _dagq_served = False
    """Whether a command has ever succeeded on this client."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        # redis-py retries a failed command at once, without backoff, so its retries are
        # spent before a replica can be promoted: ride a failover out here instead.
        # A cluster never reached yet is a wrong URL or a cluster that is down: say so at once.
        deadline = time.monotonic() + (CLUSTER_RIDE_THROUGH_S if self._dagq_served else 0)
        delay = 0.05
        while True:
            try:
                reply = await super().execute_command(*args, **kwargs)
                self._dagq_served = True
                return reply
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() + delay > deadline:
                    raise
            except AttributeError as exc:
                if not _lost_writer(exc) or time.monotonic() + delay > deadline:
                    raise
            except (RedisClusterException, redis.ResponseError) as exc:
                if not _cluster_outage(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise redis.ConnectionError(f"Redis Cluster unavailable: {exc}") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return _ClusterPipeline(self, transaction)  # type: ignore[abstract]


class _ClusterPipeline(ClusterPipeline):
    """A cluster pipeline with the outage translation of :class:`_Cluster`."""

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        try:
            return await super().execute(raise_on_error, allow_redirections)
        except (RedisClusterException, redis.ResponseError) as exc:
            if _cluster_outage(exc):
                raise redis.ConnectionError(f"Redis Cluster unavailable: {exc}") from exc
            raise
        except AttributeError as exc:
            if _lost_writer(exc):
                raise redis.ConnectionError(f"connection lost during a failover: {exc}") from exc
            raise


def make_client(url: str, **options: Any) -> aioredis.Redis:
    """An asyncio client of ``url``: ``RedisCluster`` for a cluster URL, else a ``Redis``
    over a blocking pool (callers wait for a free connection rather than fail).

    A cluster client offers the commands dagq uses under the same names, so it is typed
    as ``Redis``; code that must act differently asks :func:`is_cluster`.
    Raises ``ValueError`` for a malformed URL.
    """
    if is_cluster_url(url):
        first, seeds = parse_cluster_url(url)
        options.setdefault("socket_timeout", CLUSTER_SOCKET_TIMEOUT_S)
        cluster = _Cluster.from_url(
            first,
            startup_nodes=[ClusterNode(h, p) for h, p in seeds],
            max_connections=CLUSTER_MAX_CONNECTIONS,
            **options,
        )
        return cast(aioredis.Redis, cluster)
    # A blocking pool: a burst of concurrent callers waits for a connection instead
    # of failing with "Too many connections" as the default pool does at 100.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=_POOL_WAIT_S, **options
    )
    return aioredis.Redis.from_pool(packed_by_hiredis(pool))


async def _initialize_cluster(client: _Cluster) -> None:
    """Learn the cluster's layout.  No node answering is a wrong URL or a cluster that is
    down: said at once (``RedisClusterException``).  A node that answered but a master that
    did not is a failover under way: waited out (up to the ride-through time), so a process
    started meanwhile does not fail and get restarted in a loop by its supervisor."""
    delay, waited = 0.05, 0.0
    while True:
        try:
            await client.initialize()
            break
        except (redis.ConnectionError, redis.TimeoutError):
            # redis-py asks its first master for COMMAND: that master may be the dead one.
            if waited + delay > CLUSTER_RIDE_THROUGH_S:
                raise
            await client.aclose()
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)
    client._dagq_served = True


def make_sync_client(url: str, **options: Any) -> redis.Redis:
    """A synchronous client of ``url`` (CLI, bench): ``redis.cluster.RedisCluster`` for a
    cluster URL (typed as ``Redis``, as in :func:`make_client`), else ``redis.Redis``."""
    if is_cluster_url(url):
        first, seeds = parse_cluster_url(url)
        cluster = redis.cluster.RedisCluster.from_url(
            first,
            startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in seeds],  # type: ignore[no-untyped-call]
            **options,
        )
        return cast(redis.Redis, cluster)
    return redis.Redis.from_url(url, **options)


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
        client = make_client(url, socket_connect_timeout=_CONNECT_TIMEOUT_S)
    except (ValueError, redis.RedisError) as exc:
        raise Unavailable(f"invalid Redis URL {redact_url(url)}: {exc}") from None
    try:
        if isinstance(client, _Cluster):
            await _initialize_cluster(client)
        await client.ping()
    except (redis.RedisError, RedisClusterException, OSError) as exc:
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
