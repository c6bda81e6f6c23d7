"""Handler permissions: which handlers a user's runs may execute (``handler:<name>``).

A handler is a permission in the policy's usual shape: ``p, workflow_operator,
handler:reportSales``, with trailing-``*`` patterns (``handler:billing.*``, ``handler:*``).
It is asked where it matters: saving a workflow (its designer), starting or retrying a
run (its starter: the API's user, a schedule's or a webhook's owner) and, by the worker,
before each attempt (the run's recorded starter, so a policy narrowed while a run is in
flight takes effect at its next node).

Two gates answer the same question. :class:`LocalGate` asks an API process's
:class:`~orchestrator.security.rbac.Authorizer` (the policy files it watches).
:class:`PublishedGate` asks the policy an API last published to Redis (every accepted
load is published by :func:`publish_policy`): workers and orchestrators on other
machines have no policies directory, yet decide as the API does.  Before any API has
published a policy there is nothing to decide with, and nothing is refused (the same
deployment without an API has no users either).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from orchestrator.errors import ConfigError, Forbidden
from orchestrator.keys import Keys
from orchestrator.security.rbac import Authorizer, PolicyChange, build_policies

log = logging.getLogger("dagq.policy")

PREFIX = "handler:"


def permission(handler: str) -> str:
    """The permission that lets a user's runs execute ``handler``."""
    return f"{PREFIX}{handler}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class HandlerGate(Protocol):
    """Answers "may ``subject``'s runs execute these handlers?"."""

    async def refused(self, subject: str, handlers: Iterable[str]) -> list[str]:
        """The handlers of ``handlers`` that ``subject`` may not execute, sorted."""
        ...


def _refused(authorizer: Authorizer, subject: str, handlers: Iterable[str]) -> list[str]:
    return sorted({h for h in handlers if not authorizer.allowed(subject, permission(h))})


class LocalGate:
    """The gate of a process that holds the policy files (the API)."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def refused(self, subject: str, handlers: Iterable[str]) -> list[str]:
        """See :class:`HandlerGate`."""
        return _refused(self.authorizer, subject, handlers)


class OpenGate:
    """Refuses nothing: runs started by the machine's own operator (``dagq run``)."""

    async def refused(self, subject: str, handlers: Iterable[str]) -> list[str]:
        """See :class:`HandlerGate`."""
        return []


async def publish_policy(redis: aioredis.Redis, keys: Keys, change: PolicyChange) -> bool:
    """Publish the policy in force for :class:`PublishedGate`; True if Redis held another."""
    key = keys.policy_in_force()
    held = await redis.hget(key, "digest")
    if held is not None and _text(held) == change.digest:
        return False
    await redis.hset(
        key,
        mapping={"digest": change.digest, "model": change.model_text, "policy": change.policy_text},
    )
    return True


class PublishedGate:
    """The gate of any process with Redis: the policy the API last published.

    The digest is read at most every ``refresh_s`` (one HGET); the policy is rebuilt
    (and checked like a reload) only when it changes.  A published policy that cannot
    be built keeps the previous one in force.
    """

    def __init__(self, redis: aioredis.Redis, keys: Keys, *, refresh_s: float = 1.0) -> None:
        self.redis = redis
        self.keys = keys
        self.refresh_s = refresh_s
        self._authorizer: Authorizer | None = None
        self._digest: str | None = None
        self._checked = -1e9

    def expire(self) -> None:
        """Read the published policy again at the next question."""
        self._checked = -1e9

    async def _current(self) -> Authorizer | None:
        if time.monotonic() - self._checked < self.refresh_s:
            return self._authorizer
        key = self.keys.policy_in_force()
        try:
            raw = await self.redis.hget(key, "digest")
            digest = None if raw is None else _text(raw)
            if digest is None:
                self._authorizer, self._digest = None, None
            elif digest != self._digest:
                model, policy = await self.redis.hmget(key, ["model", "policy"])
                loaded = build_policies(_text(model or b""), _text(policy or b""), digest)
                self._authorizer = Authorizer(Path("<published>"), loaded)
                self._digest = digest
        except ConfigError as exc:
            log.error("the published policy cannot be used (%s); the previous one stays", exc)
        except (RedisError, OSError) as exc:
            log.warning("could not read the published policy (%s); using the last one", exc)
            return self._authorizer
        self._checked = time.monotonic()
        return self._authorizer

    async def refused(self, subject: str, handlers: Iterable[str]) -> list[str]:
        """See :class:`HandlerGate`."""
        authorizer = await self._current()
        if authorizer is None:
            return []
        return _refused(authorizer, subject, handlers)


async def require(
    gate: HandlerGate, subject: str | None, handlers: Iterable[str], what: str
) -> None:
    """Raise :class:`Forbidden` naming the first handler ``subject`` may not use.

    ``what`` says what was refused (``start a run of 'etl'``); no subject, no check.
    """
    if not subject:
        return
    refused = await gate.refused(subject, handlers)
    if refused:
        names = ", ".join(repr(h) for h in refused)
        raise Forbidden(
            f"{subject} may not {what}: it uses handler {names} "
            f"(needs permission {permission(refused[0])})",
            details={"handler": refused[0], "handlers": refused, "user": subject},
        )
