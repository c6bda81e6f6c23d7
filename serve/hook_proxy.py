"""``POST /hooks/{hookId}`` on the web address: relayed to the API, byte for byte.

A webhook URL may point at the web front end (the address people know, often the only
one exposed); the API verifies the signature, so the relay passes the raw body and the
signing headers unchanged and answers with the API's status and JSON.  No session is
needed: the signature is the credential.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp
from aiohttp import web

FORWARDED = ("Content-Type", "X-Dagq-Timestamp", "X-Dagq-Signature", "Idempotency-Key")
MAX_BODY = 1024 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=30)


def hook_relay(api_url: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler relaying deliveries to the API at ``api_url``."""
    base = api_url.rstrip("/")

    async def relay(request: web.Request) -> web.StreamResponse:
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > MAX_BODY:
                return web.json_response(
                    {"error": "PAYLOAD_TOO_LARGE", "message": "request body over 1 MiB",
                     "details": {"limit": MAX_BODY}},
                    status=413,
                )  # fmt: skip
        headers = {h: request.headers[h] for h in FORWARDED if h in request.headers}
        url = f"{base}/hooks/{quote(request.match_info['hookId'], safe='')}"
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT) as session,
                session.post(url, data=bytes(body), headers=headers) as resp,
            ):
                return web.Response(
                    body=await resp.read(), status=resp.status, content_type="application/json"
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return web.json_response(
                {"error": "UNAVAILABLE", "message": f"the dagq API is not reachable: {exc}",
                 "details": {}},
                status=503,
            )  # fmt: skip

    return relay
