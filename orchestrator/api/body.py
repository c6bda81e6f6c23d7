"""The request's text, query string and JSON body, checked before any handler sees them.

Whatever a stranger sends (bytes that are not UTF-8, a body that lies about its encoding,
JSON nested 1,000 deep) is answered with a 4xx decided here, cheaply: a body is bounded in
size and depth before any model is built, and a big one is parsed in the
:class:`~orchestrator.api.state.CpuPool`, off the event loop.  (Split from
``middleware.py``, which applies these for each route.)
"""

from __future__ import annotations

import typing
import zlib
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from orchestrator.api.http import decode_json
from orchestrator.api.routes import Route
from orchestrator.api.state import ApiState
from orchestrator.errors import BadRequest, PayloadTooLarge

OFFLOAD_BYTES = 32 * 1024
"""Bodies bigger than this are parsed and checked in the CPU pool, not on the loop."""
_JSON_TYPES = ("application/json", "text/json")


def is_text(value: str) -> bool:
    """Whether ``value`` is real text: aiohttp hands over bytes that are not UTF-8 as lone
    surrogates, which every encoder (orjson, Redis, a log file) refuses later."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def printable(value: Any) -> Any:
    """``value`` with every string made encodable (for error bodies that quote input)."""
    if isinstance(value, str):
        return value if is_text(value) else value.encode("utf-8", "backslashreplace").decode()
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]


def parse_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """The query string as ``model``; repeated keys become lists for list fields."""
    data: dict[str, Any] = {}
    for name in set(request.query.keys()):
        values = request.query.getall(name)
        if not all(is_text(v) for v in (name, *values)):
            raise BadRequest(f"query parameter {printable(name)!r} is not UTF-8 text")
        field = model.model_fields.get(name)
        is_list = field is not None and typing.get_origin(field.annotation) is list
        data[name] = list(values) if is_list else values[-1]
    return _validated(model, data, "query parameter", "")


def _validated(model: type[BaseModel], data: Any, what: str, whole: str) -> BaseModel:
    """``data`` as ``model``; 400 naming the first bad ``what`` (``whole``: none named)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = _errors(exc)
        raise BadRequest(
            f"invalid {what} {errors[0]['loc'] or whole}: {errors[0]['message']}",
            details={"errors": errors},
        ) from None


async def read_json(request: web.Request, route: Route, st: ApiState) -> Any:
    """The parsed JSON body (None when empty); 413 over the size or depth limit, 400 when
    malformed, undecodable (a lying ``Content-Encoding``) or not an object."""
    limits = st.settings.limits
    max_bytes = limits.max_body_bytes
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(
            f"request body of {request.content_length} bytes is over the {max_bytes} byte limit",
            details={"limit": max_bytes},
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(
            f"request body is over the {max_bytes} byte limit", details={"limit": max_bytes}
        ) from None
    except web.RequestPayloadError as exc:  # a broken chunked encoding
        reason = " ".join(str(getattr(exc.__cause__, "message", "") or exc).split())
        raise BadRequest(f"the request body could not be read: {reason}") from None
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in _WBITS:
        raise BadRequest(
            f"Content-Encoding {printable(encoding)!r} is not supported: send the body "
            "uncompressed, or as gzip or deflate"
        )
    if raw and encoding != "identity":
        raw = await st.cpu.run(inflate, raw, encoding, max_bytes)
    if not raw.strip():
        if route.body_required:
            raise BadRequest("this request needs a JSON body")
        return None
    ctype = request.content_type
    if request.headers.get("Content-Type") and not (
        ctype in _JSON_TYPES or ctype.endswith("+json")
    ):
        raise BadRequest(f"send the body as application/json, not {printable(ctype)}")
    if len(raw) > OFFLOAD_BYTES:
        return await st.cpu.run(decode_json, raw, limits.max_json_depth)
    return decode_json(raw, limits.max_json_depth)


_WBITS = {
    "identity": 0,  # not compressed
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,  # HTTP's "deflate" is the zlib format
}


def inflate(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """``raw`` decompressed, never past ``max_bytes`` (413); 400 when it is not what
    ``encoding`` says."""
    inflater = zlib.decompressobj(_WBITS[encoding])
    try:
        out = inflater.decompress(raw, max_bytes + 1)
    except zlib.error:
        raise BadRequest(
            f"the request body is not valid {encoding} data, as its Content-Encoding says"
        ) from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLarge(
            f"the request body inflates to more than the {max_bytes} byte limit",
            details={"limit": max_bytes},
        )
    if not inflater.eof:
        raise BadRequest(f"the request body ends inside its {encoding} data")
    return out


def parse_body(route: Route, data: Any) -> Any:
    """Spec bodies stay raw (the validator judges them); others become the route's model."""
    if data is None or route.spec_body or route.body is None:
        return data
    return _validated(route.body, data, "body field", "(body)")
