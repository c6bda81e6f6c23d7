"""Webhooks: a signed HTTP POST starts a run of a workflow.

A hook is ``P{hook}:defs[<id>]`` (JSON: workflow, version, parameter map, secret).  A
delivery carries ``X-Dagq-Timestamp: <unix seconds>`` and ``X-Dagq-Signature:
sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``; ``authenticate`` compares in
constant time and refuses a timestamp more than ``triggers.hook_max_skew`` away;
:meth:`HookService.consume` refuses a signature seen before (``SET NX`` of its digest,
kept twice the skew: past that the timestamp alone refuses it).  A delivery refused by
the rate limit never consumes its signature, and one that fails for a passing reason
(a limit, Redis) gives it back, so the sender may retry it as it is.  The secret must be
readable to check an HMAC, so it is kept in Redis as it is (protect Redis as the keys
to every hook); it is shown to a person once, when the hook is created or rotated.

The JSON body becomes the run's parameters, or, with a map, each parameter is an
expression (:mod:`orchestrator.spec.expressions`) over the body, which expressions see
as ``output`` (``{"region": "output.repository.owner"}``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from orchestrator.errors import DagqError, NotFound, ParameterError
from orchestrator.service.idempotent import start_once
from orchestrator.service.runs import RunService
from orchestrator.spec.expressions import ExpressionError, check_expression, evaluate

SIGNATURE = re.compile(r"^sha256=([0-9a-f]{64})$")
TIMESTAMP = re.compile(r"^\d{1,12}$")


class HookRefused(DagqError):
    """A delivery whose signature, timestamp or replay check failed (nothing started)."""

    code = "BAD_SIGNATURE"
    http_status = 401


class Replayed(DagqError):
    """A delivery whose signature was already used."""

    code = "REPLAYED"
    http_status = 409


class BadDelivery(DagqError):
    """A body that does not make valid run parameters."""

    code = "BAD_PARAMETERS"
    http_status = 422


@dataclass(frozen=True, slots=True)
class HookDef:
    """A stored webhook."""

    id: str
    workflow_id: str
    secret: str
    map: dict[str, str] = field(default_factory=dict)
    version: int | None = None
    description: str = ""
    created_by: str | None = None
    created_at: int = 0

    def to_api(self, base_url: str) -> dict[str, Any]:
        """The hook as the API shows it (never its secret)."""
        return {
            "id": self.id,
            "workflowId": self.workflow_id,
            "url": f"{base_url.rstrip('/')}/hooks/{self.id}",
            "map": dict(self.map),
            "version": self.version,
            "description": self.description,
            "createdBy": self.created_by,
        }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of a delivery (what a sender computes)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class HookService:
    """Create, list, rotate, delete and deliver webhooks."""

    def __init__(self, runs: RunService) -> None:
        self.runs = runs
        self.redis = runs.redis
        self.keys = runs.keys
        self.max_skew_s = runs.settings.triggers.hook_max_skew

    async def create(
        self,
        workflow_id: str,
        mapping: Mapping[str, str],
        *,
        version: int | None = None,
        description: str = "",
        user: str | None = None,
    ) -> HookDef:
        """A new hook with a fresh secret (NotFound for an unknown workflow)."""
        await self.runs.workflows.get(workflow_id)
        for name, expression in mapping.items():
            try:
                check_expression(expression)
            except ExpressionError as exc:
                raise ExpressionError(f"map {name!r}: {exc.message}") from None
        hook = HookDef(
            id=f"hk{secrets.token_hex(8)}",
            workflow_id=workflow_id,
            secret=f"whsec_{secrets.token_urlsafe(32)}",
            map=dict(mapping),
            version=version,
            description=description,
            created_by=user,
            created_at=int(time.time()),
        )
        await self.redis.hset(self.keys.hooks(), hook.id, orjson.dumps(asdict(hook)))
        return hook

    async def get(self, hook_id: str) -> HookDef:
        """One hook; NotFound when missing."""
        raw = await self.redis.hget(self.keys.hooks(), hook_id)
        if raw is None:
            raise NotFound(f"no hook {hook_id!r}", details={"hookId": hook_id})
        return HookDef(**orjson.loads(raw))

    async def all(self) -> list[HookDef]:
        """Every hook, by id."""
        raw: Any = await self.redis.hgetall(self.keys.hooks())
        return sorted((HookDef(**orjson.loads(v)) for v in raw.values()), key=lambda h: h.id)

    async def delete(self, hook_id: str) -> None:
        """Delete a hook; deliveries to it are refused from now on."""
        if not await self.redis.hdel(self.keys.hooks(), hook_id):
            raise NotFound(f"no hook {hook_id!r}", details={"hookId": hook_id})

    async def rotate(self, hook_id: str) -> HookDef:
        """A new secret; the old one stops working at once."""
        hook = await self.get(hook_id)
        data = {**asdict(hook), "secret": f"whsec_{secrets.token_urlsafe(32)}"}
        await self.redis.hset(self.keys.hooks(), hook_id, orjson.dumps(data))
        return HookDef(**data)

    # -- delivery --------------------------------------------------------------------------
    def authenticate(
        self, hook: HookDef, timestamp: str | None, signature: str | None, body: bytes
    ) -> str:
        """The delivery's signature if it is the hook's, made now; else :class:`HookRefused`."""
        if not timestamp or not signature:
            raise HookRefused("X-Dagq-Timestamp and X-Dagq-Signature are required")
        if not TIMESTAMP.fullmatch(timestamp):
            raise HookRefused("X-Dagq-Timestamp must be Unix seconds")
        if abs(time.time() - int(timestamp)) > self.max_skew_s:
            raise HookRefused(
                f"X-Dagq-Timestamp is more than {self.max_skew_s:g} s from the server's clock"
            )
        match = SIGNATURE.fullmatch(signature.strip().lower())
        expected = sign(hook.secret, timestamp, body)
        if match is None or not hmac.compare_digest(expected, f"sha256={match.group(1)}"):
            raise HookRefused("the signature does not match the hook's secret")
        return expected

    def _seen_key(self, signature: str) -> str:
        return self.keys.hook_seen(hashlib.sha256(signature.encode()).hexdigest())

    async def consume(self, hook: HookDef, signature: str) -> None:
        """Mark the signature used; :class:`Replayed` when it was already."""
        ttl_s = int(self.max_skew_s * 2) + 1
        if not await self.redis.set(self._seen_key(signature), hook.id, nx=True, ex=ttl_s):
            raise Replayed("this signature was used already (a replayed delivery)")

    async def give_back(self, signature: str) -> None:
        """Forget a used signature whose delivery failed for a reason worth a retry."""
        await self.redis.delete(self._seen_key(signature))

    def parameters(self, hook: HookDef, payload: Any) -> dict[str, Any]:
        """The run's parameters from the body (through the hook's map, if any)."""
        if payload is None:
            payload = {}
        if not hook.map:
            if not isinstance(payload, dict):
                raise BadDelivery("the body must be a JSON object of run parameters")
            return payload
        out: dict[str, Any] = {}
        for name, expression in hook.map.items():
            try:
                out[name] = evaluate(expression, output=payload, params={}, nodes={})
            except ExpressionError as exc:
                raise BadDelivery(f"parameter {name!r}: {exc.message}") from None
        return {k: v for k, v in out.items() if v is not None}

    async def deliver(
        self, hook: HookDef, payload: Any, *, delivery_id: str | None = None
    ) -> tuple[str, str, bool]:
        """Start the hook's run: (run id, status, created).  ``delivery_id`` (the sender's
        ``Idempotency-Key``) makes a retried delivery return the first run."""
        params = self.parameters(hook, payload)
        meta = {"hookId": hook.id}
        try:
            if delivery_id:
                started = await start_once(
                    self.runs,
                    hook.workflow_id,
                    params,
                    key=f"hook:{hook.id}:{delivery_id}",
                    version=hook.version,
                    user=f"hook:{hook.id}",
                    metadata=meta,
                    run_as=hook.created_by,
                )
                state, created = started.state, started.created
            else:
                state = await self.runs.start(
                    hook.workflow_id, params, version=hook.version, user=f"hook:{hook.id}",
                    metadata=meta, run_as=hook.created_by,
                )  # fmt: skip
                created = True
        except ParameterError as exc:
            raise BadDelivery(exc.message, details=exc.details) from None
        return state.run_id, str(state.status), created
