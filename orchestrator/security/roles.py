"""The design's roles and permissions: the vocabulary every policy is written in."""

from __future__ import annotations

ROLES: tuple[str, ...] = ("workflow_designer", "workflow_operator", "workflow_admin")
"""The design's three roles."""

PERMISSIONS: tuple[str, ...] = (
    "workflow:create",
    "workflow:read",
    "workflow:update",
    "workflow:delete",
    "workflow:validate",
    "workflow:execute",
    "run:read",
    "run:cancel",
    "schedule:read",
    "schedule:write",
    "hook:read",
    "hook:write",
    "job:enqueue",
    "template:read",
    "template:write",
    "system:configure",
)
"""Every permission the design names; API routes declare one of these."""
