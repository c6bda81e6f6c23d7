"""A map node's items (``GET /runs/{runId}/nodes/{nodeId}/items?status=failed``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.http import json_response, query, state
from orchestrator.service.items import item_page
from orchestrator.vocab import NodeStatus


class ItemsQuery(BaseModel):
    """``status``: only items in it; ``offset``/``limit``: one page, in index order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: NodeStatus | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=100, ge=1, le=1000)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ItemView(_Out):
    """One item: its index, status, attempts, its element, output or error."""

    index: int
    status: NodeStatus
    attempts: int
    item: Any = None
    output: dict[str, Any] | None = None
    error: str | None = None
    worker: str | None = None
    startTime: str | None = None
    endTime: str | None = None


class MapItems(_Out):
    """A page of a map node's items and its counts; ``total``: how many match ``status``."""

    runId: str
    nodeId: str
    progress: dict[str, int]
    total: int
    items: list[ItemView]


async def node_items(request: web.Request) -> web.StreamResponse:
    """One page of a map node's items, in index order."""
    q = query(request, ItemsQuery)
    run = await state(request).service.get(request.match_info["runId"])
    page = item_page(
        run, request.match_info["nodeId"], status=q.status, offset=q.offset, limit=q.limit
    )
    return json_response(page)
