"""Unauthenticated endpoints: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from orchestrator.api.http import json_response, state
from orchestrator.api.state import ApiState
from orchestrator.store.queue_admin import as_str
from orchestrator.vocab import NODE_STATUSES, RUN_STATUSES

_READY_TIMEOUT_S = 2.0
_NODE_SAMPLE = 1000
OPENAPI_DOC: web.AppKey[bytes] = web.AppKey("dagq_openapi", bytes)


async def healthz(request: web.Request) -> web.StreamResponse:
    """The process is up."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.StreamResponse:
    """200 when Redis answers, else 503 (load balancers stop sending traffic)."""
    st = state(request)
    try:
        await asyncio.wait_for(st.conn.redis.ping(), _READY_TIMEOUT_S)
    except (RedisError, OSError, TimeoutError) as exc:
        return json_response(
            {"status": "unavailable", "redis": f"{st.conn.safe_url}: {exc or 'timed out'}"},
            status=503,
        )
    return json_response({"status": "ok", "redis": st.conn.safe_url})


async def refresh_gauges(st: ApiState) -> None:
    """Read run, node and queue gauges from Redis (done per scrape, not per request)."""
    redis, keys = st.conn.redis, st.keys
    active: list[str] = []
    for shard in keys.all_shards():
        ids: list[Any] = await redis.zrange(keys.active(shard), 0, -1)
        active += [as_str(i) for i in ids]
    metas = await st.service.runs.load_meta_many(active)
    st.metrics.set_runs(Counter(m["status"] for m in metas.values()), RUN_STATUSES)
    sample = await st.service.runs.load_many(active[:_NODE_SAMPLE])
    nodes: Counter[str] = Counter()
    for run, _ in sample.values():
        nodes.update(n.status for n in run.nodes.values())
    st.metrics.set_nodes(nodes, NODE_STATUSES)
    st.metrics.set_queues(await st.queue.depths())
    st.metrics.set_workers(w.to_dict() for w in await st.workers.live_workers())
    st.metrics.policy_in_error.set(1 if st.authorizer.status().in_error else 0)


async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text exposition."""
    st = state(request)
    # Serve the request counters even when Redis is down; readyz reports Redis.
    with contextlib.suppress(RedisError, OSError):
        await refresh_gauges(st)
    return web.Response(body=st.metrics.render(), headers={"Content-Type": st.metrics.content_type})


async def openapi(request: web.Request) -> web.StreamResponse:
    """The OpenAPI 3.1 document generated from the route table (built once at start)."""
    return web.Response(body=request.app[OPENAPI_DOC], content_type="application/json")


def encode_document(doc: dict[str, Any]) -> bytes:
    """The document as JSON bytes."""
    return orjson.dumps(doc)
