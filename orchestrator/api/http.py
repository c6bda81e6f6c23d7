"""Small HTTP helpers shared by handlers and middleware: request keys, JSON responses."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel

from orchestrator.api.state import STATE, ApiState, Identity
from orchestrator.errors import BadRequest, PayloadTooLarge
from orchestrator.spec.loader import nested_deeper_than

T = TypeVar("T", bound=BaseModel)

API_PREFIX = "/api/v1"
JSON = "application/json"

IDENTITY: web.RequestKey[Identity] = web.RequestKey("dagq_identity", Identity)
"""The authenticated caller (set by the middleware before the handler runs)."""
ROLE: web.RequestKey[str] = web.RequestKey("dagq_role", str)
"""The caller's role from the policy ('' when it has none)."""
REQUEST_ID: web.RequestKey[str] = web.RequestKey("dagq_request_id", str)
"""The request id (echoed in ``X-Request-Id``)."""
QUERY: web.RequestKey[BaseModel] = web.RequestKey("dagq_query", BaseModel)
"""The validated query string, an instance of the route's query model."""
BODY: web.RequestKey[Any] = web.RequestKey("dagq_body", object)
"""The validated body: the route's body model, or raw JSON for spec bodies."""


def state(request: web.Request) -> ApiState:
    """The application's state."""
    return request.app[STATE]


def query(request: web.Request, model: type[T]) -> T:
    """The validated query string as ``model`` (the route must declare it)."""
    value = request.get(QUERY)
    if not isinstance(value, model):
        raise TypeError(f"route did not declare query model {model.__name__}")
    return value


def body(request: web.Request, model: type[T]) -> T:
    """The validated body as ``model``; the model's defaults when the body was empty."""
    value = request.get(BODY)
    if value is None:
        return model()
    if not isinstance(value, model):
        raise TypeError(f"route did not declare body model {model.__name__}")
    return value


def raw_body(request: web.Request) -> Any:
    """The parsed JSON body (spec routes), or None when the request had none."""
    return request.get(BODY)


def user(request: web.Request) -> str:
    """The caller's user name."""
    return request[IDENTITY].user


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response serialised with orjson (several times faster than json)."""
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type=JSON,
        headers=headers,
    )


def no_content() -> web.Response:
    """204."""
    return web.Response(status=204)


def decode_json(raw: bytes, max_depth: int) -> Any:
    """A JSON object from ``raw``, nested at most ``max_depth`` levels; 400 or 413 if not."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson's own ceiling (1,024), far above ours
            raise _too_deep(max_depth) from None
        raise BadRequest(f"malformed JSON body: {exc}") from None
    if not isinstance(data, dict):
        # Every body of this API is an object; ``null`` or a list is not "no body".
        raise BadRequest("the body must be a JSON object")
    if nested_deeper_than(data, max_depth):
        raise _too_deep(max_depth)
    return data


def _too_deep(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body nests objects and lists more than {limit} levels deep; the limit "
        "is workflow.resource_limits.max_json_depth",
        code="NESTING_TOO_DEEP",
        details={"limit": limit},
    )
