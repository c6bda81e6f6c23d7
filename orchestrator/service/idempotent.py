"""Starting a run at most once per idempotency key.

The API's ``Idempotency-Key`` header, ``dagq runs start --idempotency-key``, every
schedule fire (``schedule:<id>:<fire time>``), every backfill step and every webhook
delivery start runs through :func:`start_once`: whatever the number of concurrent
callers and processes, one run is created per key within the retention window
(``triggers.idempotency_retention``); the others get that run.  The same key with
other parameters (or another workflow or version) is a :class:`Conflict`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from orchestrator.engine.state import RunState
from orchestrator.errors import BadRequest, Conflict, NotFound, Unavailable
from orchestrator.service.runs import RunService, new_run_id
from orchestrator.store.idempotency import IdempotencyStore

MAX_KEY_LENGTH = 255
_KEY = re.compile(r"^[\x21-\x7e]+$")
_PENDING_MS = 30_000
"""A reservation whose run was never written (its process died) expires after this."""
_WAIT_S = 35.0


@dataclass(frozen=True, slots=True)
class Started:
    """The run a key stands for, and whether this call created it."""

    state: RunState
    created: bool


def check_key(key: str) -> str:
    """``key`` if it is 1-255 visible ASCII characters, else :class:`BadRequest`."""
    if not key or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise BadRequest(
            f"an idempotency key is 1-{MAX_KEY_LENGTH} visible ASCII characters (no spaces)"
        )
    return key


def fingerprint(workflow_id: str, version: int | None, params: Mapping[str, Any] | None) -> str:
    """What a start asked for, in a form two starts can be compared by."""
    raw = orjson.dumps(
        {"wf": workflow_id, "v": version, "p": dict(params or {})},
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(raw).hexdigest()


async def start_once(
    service: RunService,
    workflow_id: str,
    params: Mapping[str, Any] | None,
    *,
    key: str,
    version: int | None = None,
    priority: int | None = None,
    user: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_as: str | None = None,
) -> Started:
    """Start the run ``key`` stands for, or return it if it exists (see the module doc)."""
    check_key(key)
    store = IdempotencyStore(service.redis, service.keys)
    wanted = fingerprint(workflow_id, version, params)
    retention_ms = int(service.settings.triggers.idempotency_retention * 1000)
    deadline = time.monotonic() + _WAIT_S
    while True:
        run_id = new_run_id()
        held = await store.reserve(key, run_id, wanted, ttl_ms=_PENDING_MS)
        if held is None:
            try:
                state = await service.start(
                    workflow_id,
                    params,
                    version=version,
                    priority=priority,
                    user=user,
                    metadata={**(metadata or {}), "idempotencyKey": key},
                    run_id=run_id,
                    run_as=run_as,
                )
            except BaseException:
                await asyncio.shield(store.release(key, run_id))
                raise
            await store.confirm(key, run_id, wanted, ttl_ms=retention_ms)
            return Started(state, created=True)
        if held.fingerprint != wanted:
            raise Conflict(
                "this idempotency key was used for a different start (another workflow, "
                f"version or parameters): run {held.run_id}",
                details={"runId": held.run_id},
            )
        try:
            return Started(await service.get(held.run_id), created=False)
        except NotFound:
            if held.done:
                raise NotFound(
                    f"the run of this idempotency key ({held.run_id}) has expired",
                    details={"runId": held.run_id},
                ) from None
        # The first caller is still writing its run (or died doing so): wait for either.
        if time.monotonic() > deadline:
            raise Unavailable("the start holding this idempotency key did not finish; try again")
        await asyncio.sleep(0.01)
