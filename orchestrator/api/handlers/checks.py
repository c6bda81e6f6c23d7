"""Permission checks: the app asks the server about an action it refused locally.

The app refuses some actions from its cached permission set without a request (F5 for a
role that may not run workflows).  It then asks here, so the server stays the authority:
the answer comes from the policy in force, and a denial is audited like every other
refusal of a known caller (who, the permission, the resource, the action, ``denied``).
An allowed check changes nothing and is not audited: the app then refreshes its
permissions and asks the person to try again.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from orchestrator.api import admin_schemas
from orchestrator.api.http import IDENTITY, REQUEST_ID, ROLE, body, json_response, state
from orchestrator.errors import Unavailable
from orchestrator.vocab import AuditOutcome

log = structlog.get_logger(__name__)


async def check_permission(request: web.Request) -> web.StreamResponse:
    """Whether the caller holds a permission now; a denial goes to the audit trail."""
    st = state(request)
    asked = body(request, admin_schemas.PermissionCheck)
    ident, role = request[IDENTITY], request.get(ROLE) or ""
    security = st.settings.workflow.security
    allowed = not security.rbac_enabled or st.authorizer.allowed(ident.user, asked.permission)
    who = f"{ident.user} ({role})" if role else f"{ident.user} (no role)"
    reason = (
        f"{who} holds {asked.permission}" if allowed else f"{who} may not use {asked.permission}"
    )
    if not allowed and security.audit_logging:
        try:
            await st.audit.record(
                user=ident.user,
                role=role or None,
                action=asked.permission,
                resource=asked.resource,
                outcome=AuditOutcome.DENIED,
                request_id=request[REQUEST_ID],
                status=403,
                detail=f"refused in the app: {asked.action} ({reason})",
            )
        except Unavailable as exc:
            log.error("audit_failed", error=exc.message, rid=request[REQUEST_ID])
    return json_response({"allowed": allowed, "permission": asked.permission, "reason": reason})
