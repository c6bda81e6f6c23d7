"""Outgoing notifications: a workflow's ``notify: {url, on: [...]}`` POSTs, signed.

The engine queues each notification with the run's write (a ``Notify`` command, XADDed
to the shard's ``notify`` stream in the same script), so none is lost and none delays
the run.  Every orchestrator process runs :class:`Notifier`: it reads the streams with
the consumer group ``notify``, POSTs each body as JSON with

- ``X-Dagq-Event``, ``X-Dagq-Delivery`` (the entry id: the same on a retry),
- ``X-Dagq-Timestamp`` (unix seconds) and ``X-Dagq-Signature: sha256=<hex>``, the
  HMAC-SHA256 of ``<timestamp>.<raw body>`` under the notify secret (the scheme of
  dagq's incoming webhooks),

and acknowledges it on a 2xx answer.  A failed delivery stays pending and is tried again
after 1 s, 2 s, 4 s ... (capped at 5 minutes), also by another process if this one dies,
until ``triggers.notify_max_attempts`` deliveries; then it is dropped with an error log.

Where a POST may go is guarded (:mod:`orchestrator.service.notify_guard`): a URL or a
resolved address the guard refuses is logged once with the reason and the notification
is dropped as undeliverable (retrying cannot help); redirects are not followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from orchestrator.keys import Keys
from orchestrator.logs import register_secret
from orchestrator.service.notify_guard import GuardedResolver, refusal_in, url_refusal
from orchestrator.settings import Settings

log = logging.getLogger("dagq.notify")
GROUP = "notify"
_TIMEOUT = aiohttp.ClientTimeout(total=10)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff_ms(deliveries: int) -> int:
    """How long a notification delivered ``deliveries`` times waits before the next try."""
    return int(min(300_000, 1000 * 2 ** max(0, deliveries - 1)))


async def notify_secret(redis: aioredis.Redis, keys: Keys, settings: Settings) -> str:
    """The configured secret, else the one kept in Redis (created once, by whoever is first)."""
    configured = settings.triggers.notify_secret
    if configured:
        register_secret(configured)
        return configured
    key = keys.notify_secret()
    await redis.set(key, secrets.token_hex(32), nx=True)
    raw = await redis.get(key)
    value = raw.decode() if isinstance(raw, bytes) else str(raw)
    register_secret(value)
    return value


class Notifier:
    """Delivers the notifications of every shard (one consumer task per shard)."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, settings: Settings, consumer: str
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.consumer = consumer
        self.max_attempts = settings.triggers.notify_max_attempts
        self._secret: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.allowed = tuple(settings.triggers.notify_allowed_networks)
        self.sent = 0
        self.refused = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.allowed))
        async with aiohttp.ClientSession(timeout=_TIMEOUT, connector=connector) as http:
            shards = [
                asyncio.create_task(self._shard(s, http, stop)) for s in self.keys.all_shards()
            ]
            try:
                await stop.wait()
            finally:
                for task in shards:
                    task.cancel()
                await asyncio.gather(*shards, return_exceptions=True)
                if self._tasks:
                    await asyncio.wait(self._tasks, timeout=5)

    async def _shard(self, shard: int, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        stream = self.keys.notify(shard)
        last_retry = 0.0
        while not stop.is_set():
            try:
                await self._group(stream)
                reply: Any = await self.redis.xreadgroup(
                    GROUP, self.consumer, {stream: ">"}, count=50, block=500
                )
                for _, entries in reply or []:
                    for entry_id, fields in entries:
                        self._spawn(http, stream, entry_id, fields)
                if time.monotonic() - last_retry >= 1.0:
                    last_retry = time.monotonic()
                    await self._retry_due(http, stream)
            except (RedisError, OSError) as exc:
                if stop.is_set():
                    return
                log.warning("notifications of shard %d: %s; retrying", shard, exc)
                await asyncio.sleep(0.5)

    async def _group(self, stream: str) -> None:
        try:
            await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _retry_due(self, http: aiohttp.ClientSession, stream: str) -> None:
        """Claim the pending notifications whose backoff has passed, and try them again."""
        rows: Any = await self.redis.xpending_range(stream, GROUP, "-", "+", 100)
        for row in rows:
            entry_id, idle, times = (
                row["message_id"],
                int(row["time_since_delivered"]),
                int(row["times_delivered"]),
            )
            if times >= self.max_attempts:
                log.error("notification %s given up after %d deliveries", _text(entry_id), times)
                await self._done(stream, entry_id)
                continue
            if idle < backoff_ms(times):
                continue
            claimed: Any = await self.redis.xclaim(
                stream, GROUP, self.consumer, backoff_ms(times), [entry_id]
            )
            for cid, fields in claimed:
                if fields:
                    self._spawn(http, stream, cid, fields)

    def _spawn(self, http: aiohttp.ClientSession, stream: str, entry_id: Any, fields: Any) -> None:
        task = asyncio.create_task(self._deliver(http, stream, entry_id, fields))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, http: aiohttp.ClientSession, stream: str, entry_id: Any, fields: Any
    ) -> None:
        try:
            item = orjson.loads(fields[b"d"])
            url, body = str(item["url"]), orjson.dumps(item["body"])
            event = str(item["body"].get("event", ""))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            log.error("notification %s is malformed, dropped: %s", _text(entry_id), exc)
            await self._done(stream, entry_id)
            return
        if self._secret is None:
            self._secret = await notify_secret(self.redis, self.keys, self.settings)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "dagq-notify",
            "X-Dagq-Event": event,
            "X-Dagq-Delivery": _text(entry_id),
            "X-Dagq-Timestamp": stamp,
            "X-Dagq-Signature": signature(self._secret, stamp, body),
        }
        ok, why = False, url_refusal(url, self.allowed)
        if why is not None:
            await self._refuse(stream, entry_id, url, why)
            return
        try:
            async with http.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                ok = 200 <= resp.status < 300
                why = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if (refused := refusal_in(exc)) is not None:
                await self._refuse(stream, entry_id, url, str(refused))
                return
            ok, why = False, f"{type(exc).__name__}: {exc}"
        if ok:
            self.sent += 1
            with contextlib.suppress(RedisError, OSError):
                await self._done(stream, entry_id)
        else:
            log.warning("notification %s to %s failed (%s); it will be retried",
                        _text(entry_id), url, why)  # fmt: skip

    async def _refuse(self, stream: str, entry_id: Any, url: str, why: str) -> None:
        """A destination the guard refuses: say so once, and drop the notification."""
        self.refused += 1
        log.error("notification %s to %s refused: %s; dropped as undeliverable",
                  _text(entry_id), url, why)  # fmt: skip
        with contextlib.suppress(RedisError, OSError):
            await self._done(stream, entry_id)

    async def _done(self, stream: str, entry_id: Any) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
