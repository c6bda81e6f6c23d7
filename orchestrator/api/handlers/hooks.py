"""Webhooks: managing them (``/api/v1/hooks``) and receiving deliveries (``/hooks/{id}``)."""

from __future__ import annotations

from aiohttp import web

from orchestrator.api import trigger_schemas as ts
from orchestrator.api.http import (
    REQUEST_ID,
    body,
    decode_json,
    json_response,
    no_content,
    state,
    user,
)
from orchestrator.errors import (
    BadRequest,
    DagqError,
    LimitExceeded,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
)
from orchestrator.service.hooks import HookDef, HookService
from orchestrator.vocab import AuditOutcome

RATE_ACTION = "hook_delivery"
"""The rate limiter's action for deliveries (``triggers.hook_rate_limit``, per hook)."""


def _service(request: web.Request) -> HookService:
    return HookService(state(request).service)


def base_url(request: web.Request) -> str:
    """Where the API is reached: ``api.url`` when configured, else the request's origin."""
    configured = state(request).settings.api.url
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.host}"


def _with_secret(request: web.Request, hook: HookDef) -> dict[str, object]:
    return {**hook.to_api(base_url(request)), "secret": hook.secret}


async def list_hooks(request: web.Request) -> web.StreamResponse:
    """Every webhook (without secrets)."""
    hooks = await _service(request).all()
    return json_response({"hooks": [h.to_api(base_url(request)) for h in hooks]})


async def create_hook(request: web.Request) -> web.StreamResponse:
    """A new webhook; its secret is in this answer and never again."""
    b = body(request, ts.HookCreate)
    hook = await _service(request).create(
        b.workflowId, b.expressions(), version=b.version, description=b.description,
        user=user(request),
    )  # fmt: skip
    return json_response(_with_secret(request, hook), status=201)


async def delete_hook(request: web.Request) -> web.StreamResponse:
    """Delete a webhook."""
    await _service(request).delete(request.match_info["hookId"])
    return no_content()


async def rotate_hook(request: web.Request) -> web.StreamResponse:
    """A new secret for the webhook (the old one stops working)."""
    hook = await _service(request).rotate(request.match_info["hookId"])
    return json_response(_with_secret(request, hook))


async def _raw_body(request: web.Request) -> bytes:
    limit = state(request).settings.limits.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body over the {limit} byte limit", details={"limit": limit})
    if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        raise BadRequest("send a webhook body uncompressed: it is signed as sent")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(
            f"request body over the {limit} byte limit", details={"limit": limit}
        ) from None


async def deliver(request: web.Request) -> web.StreamResponse:
    """A signed delivery: verify it, then start the hook's workflow with the body."""
    st = state(request)
    service = _service(request)
    hook = await service.get(request.match_info["hookId"])
    raw = await _raw_body(request)
    outcome = AuditOutcome.DENIED
    status, detail = 401, ""
    try:
        signature = service.authenticate(
            hook, request.headers.get("X-Dagq-Timestamp"),
            request.headers.get("X-Dagq-Signature"), raw,
        )  # fmt: skip
        await st.limiter.hit(f"hook:{hook.id}", RATE_ACTION)
        await service.consume(hook, signature)
        try:
            payload = decode_json(raw, st.settings.limits.max_json_depth) if raw.strip() else None
            run_id, run_status, created = await service.deliver(
                hook, payload, delivery_id=request.headers.get("Idempotency-Key")
            )
        except (LimitExceeded, RateLimited, Unavailable):
            await service.give_back(signature)  # worth a retry as it is
            raise
        outcome, status, detail = AuditOutcome.ALLOWED, 202, f"run {run_id}"
    except Exception as exc:
        status = getattr(exc, "http_status", 500)
        detail = getattr(exc, "message", type(exc).__name__)
        raise
    finally:
        await _audit(request, hook, outcome, status, detail)
    answer = {"runId": run_id, "workflowId": hook.workflow_id, "status": run_status,
              "created": created}  # fmt: skip
    return json_response(answer, status=202)


async def _audit(
    request: web.Request, hook: HookDef, outcome: AuditOutcome, status: int, detail: str
) -> None:
    st = state(request)
    if not st.settings.workflow.security.audit_logging:
        return
    try:
        await st.audit.record(
            user=f"hook:{hook.id}",
            role=None,
            action="deliverHook",
            resource=f"POST /hooks/{hook.id}",
            outcome=outcome,
            request_id=request[REQUEST_ID],
            status=status,
            detail=detail[:200] or None,
        )
    except DagqError:  # the audit sink's trouble never fails a delivery (it is logged)
        return
