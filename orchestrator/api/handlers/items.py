"""A map node's items (``GET /runs/{runId}/nodes/{nodeId}/items?status=failed``)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.http import json_response, query, state
from orchestrator.service.items import item_page
from orchestrator.vocab import NodeStatus
from orchestrator.wire.runs import MapItems as MapItems


class ItemsQuery(BaseModel):
    """``status``: only items in it; ``offset``/``limit``: one page, in index order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: NodeStatus | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=100, ge=1, le=1000)


async def node_items(request: web.Request) -> web.StreamResponse:
    """One page of a map node's items, in index order."""
    q = query(request, ItemsQuery)
    run = await state(request).service.get(request.match_info["runId"])
    page = item_page(
        run, request.match_info["nodeId"], status=q.status, offset=q.offset, limit=q.limit
    )
    return json_response(page)
