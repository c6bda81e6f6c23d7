"""The API's wire format as the client reads it: error bodies and server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from orchestrator.errors import (
    BadRequest,
    Conflict,
    DagqError,
    Forbidden,
    LimitExceeded,
    NotFound,
    ParameterError,
    PayloadTooLarge,
    RateLimited,
    SpecInvalid,
    Unauthorized,
    Unavailable,
)

STATUS_ERRORS: dict[int, type[DagqError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: SpecInvalid,
    503: Unavailable,
}


def error_from(status: int, body: Any, retry_after: str | None) -> DagqError:
    """The :class:`DagqError` an HTTP error answer stands for (its JSON body, if any)."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = str(body.get("error") or "")
        message = body["message"]
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
    else:
        code, message, details = "", f"HTTP {status}: {str(body)[:200]}", {}
    if status == 429:
        if code == "RATE_LIMITED" or (retry_after and code != "LIMIT_EXCEEDED"):
            wait = int(retry_after) if retry_after and retry_after.isdigit() else 1
            return RateLimited(message, retry_after_s=wait, code=code or None, details=details)
        return LimitExceeded(message, code=code or None, details=details)
    if status == 400 and code == ParameterError.code:
        return ParameterError(message, details=details)
    cls = STATUS_ERRORS.get(status)
    if cls is not None:
        return cls(message, code=code or None, details=details)
    err = DagqError(message, code=code or f"HTTP_{status}", details=details)
    err.http_status = status
    return err


def loads(raw: bytes) -> Any:
    """JSON of a body; its text when it is not JSON; None when empty."""
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


async def frames(
    resp: aiohttp.ClientResponse,
) -> AsyncIterator[tuple[str, str | None, Any]]:
    """``(event, id, data)`` of each SSE frame (comments and retry hints skipped)."""
    event, event_id = "message", None
    data: list[str] = []
    async for raw in resp.content:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield event, event_id, loads("\n".join(data).encode())
            event, event_id, data = "message", None, []
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value
