"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Nothing here is written by hand per endpoint: paths, parameters, bodies, responses,
security and error statuses all come from :data:`orchestrator.api.routes.ROUTES`
and the models the middleware validates with, so the document says what the
handlers accept and return (the schemathesis test holds it to that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    models_json_schema,
)

from orchestrator.api.routes import AUTHENTICATED, PUBLIC, Route
from orchestrator.api.schemas import ErrorResponse

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REF = "#/components/schemas/{model}"
_ERROR_TEXT = {
    400: "Malformed JSON or an invalid query or body field",
    401: "No identity, or a wrong key or token",
    403: "The caller's role does not grant the route's permission",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body over the size limit",
    422: "Invalid workflow specification (details.errors lists every problem)",
    429: "Rate or resource limit reached (see Retry-After)",
    500: "Internal error",
    503: "A backing service (Redis) is unavailable",
}
_PATH_PARAMS: dict[str, dict[str, Any]] = {
    "version": {"type": "integer", "minimum": 1},
}
_PATH_DEFAULT = {"type": "string", "minLength": 1, "maxLength": 128}


def _strip_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf [X, null]`` -> ``X`` (a query parameter is absent, never null)."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    rest = [o for o in options if o != {"type": "null"}]
    if len(rest) != 1:
        return schema
    merged = {k: v for k, v in schema.items() if k != "anyOf"}
    merged.update(rest[0])
    if merged.get("default", 0) is None:
        merged.pop("default")
    return merged


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One OpenAPI query parameter per field of ``model``."""
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        clean = _strip_null(dict(prop))
        description = clean.pop("description", None)
        clean.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": clean,
        }
        if description:
            param["description"] = description
        if clean.get("type") == "array":
            param["style"], param["explode"] = "form", True
        out.append(param)
    return out


def path_parameters(path: str) -> list[dict[str, Any]]:
    """The ``{name}`` parameters of ``path``."""
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_PARAMS.get(name, _PATH_DEFAULT),
        }
        for name in _PARAM.findall(path)
    ]


Refs = dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]]


class _OpenAnswers(GenerateJsonSchema):
    """Bodies keep ``additionalProperties: false``; answers may carry more fields than the
    models declare (the upstream reference's, beside ours: :mod:`orchestrator.api.shapes`).
    A model then has an ``-Input`` and an ``-Output`` schema where the two differ."""

    def _update_class_schema(
        self, json_schema: JsonSchemaValue, cls: type[Any], config: ConfigDict
    ) -> None:
        super()._update_class_schema(json_schema, cls, config)
        if self.mode == "serialization" and json_schema.get("additionalProperties") is False:
            del json_schema["additionalProperties"]


def _component_refs(routes: Iterable[Route]) -> tuple[Refs, dict[str, Any]]:
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorResponse, "serialization")]
    for route in routes:
        if route.body is not None:
            pairs.append((route.body, "validation"))
        if route.response is not None:
            pairs.append((route.response, "serialization"))
    unique = list(dict.fromkeys(pairs))
    refs, defs = models_json_schema(
        unique, ref_template=_REF, by_alias=False, schema_generator=_OpenAnswers
    )
    out: Refs = {}
    for (model, mode), ref in refs.items():
        if isinstance(model, type) and issubclass(model, BaseModel):
            out[(model, mode)] = ref
    return out, defs.get("$defs", {})


HEADER_TEXT = {
    "X-Dagq-Timestamp": "Unix seconds when the delivery was signed (at most 5 min off)",
    "X-Dagq-Signature": "sha256=<hex of HMAC-SHA256(secret, timestamp + '.' + raw body)>",
    "Idempotency-Key": "Start at most once: within the retention window (24 h by default) "
    "the same key answers 200 with the first run; with other parameters, 409.",
}


def _error(status: int) -> dict[str, Any]:
    return {
        "description": _ERROR_TEXT.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorResponse")}}},
    }


def _error_statuses(route: Route) -> list[int]:
    statuses = set(route.errors) | {500}
    if route.query is not None or route.body is not None:
        statuses.add(400)
    if route.body is not None:
        statuses.add(413)
    if route.permission != PUBLIC:
        statuses |= {401, 503}
    if route.permission not in (PUBLIC, AUTHENTICATED):
        statuses.add(403)
    if route.rate_limit is not None:
        statuses.add(429)
    return sorted(statuses)


def operation(
    route: Route, refs: dict[tuple[type[BaseModel], JsonSchemaMode], Any]
) -> dict[str, Any]:
    """The OpenAPI operation object of one route."""
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
    }
    if route.permission == PUBLIC:
        op["security"] = []
    else:
        need = "any authenticated user" if route.permission == AUTHENTICATED else route.permission
        op["description"] = f"Requires: {need}."
        if route.rate_limit:
            op["description"] += f" Rate limited per user ({route.rate_limit})."
    params = path_parameters(route.path)
    if route.query is not None:
        params += query_parameters(route.query)
    params += [
        {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 255},
            "description": HEADER_TEXT.get(name, name),
        }
        for name in route.headers
    ]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    success: dict[str, Any] = {"description": route.summary}
    if route.response is not None:
        content: dict[str, Any] = {
            "application/json": {"schema": refs[(route.response, "serialization")]}
        }
        if route.event_stream:
            content["text/event-stream"] = {
                "schema": {"type": "string"},
                "description": "Frames `id: <event id>` / `data: <RunEvent JSON>`; "
                "resume with Last-Event-ID; a final `event: end` frame closes the stream.",
            }
        success["content"] = content
    elif route.status != 204:
        kind: Literal["string", "object"] = "string" if "text" in route.media_type else "object"
        success["content"] = {route.media_type: {"schema": {"type": kind}}}
    responses: dict[str, Any] = {str(route.status): success}
    if route.replay_status is not None:
        responses[str(route.replay_status)] = {
            "description": "The run an earlier start with the same Idempotency-Key created",
            "content": success.get("content", {}),
        }
    for status in _error_statuses(route):
        responses[str(status)] = _error(status)
    op["responses"] = responses
    return op


def build_document(routes: Iterable[Route], *, version: str = "1") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for ``routes``."""
    table = list(routes)
    refs, components = _component_refs(table)
    paths: dict[str, dict[str, Any]] = {}
    for route in table:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dagq API",
            "version": version,
            "description": "Workflows over Redis: definitions, versions, runs, events and "
            "administration. Authenticate with `X-API-Key` or `Authorization: Bearer <JWT>`; "
            "every error is `{error, message, details}`.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
        "security": [{"ApiKeyAuth": []}, {"BearerAuth": []}],
    }
