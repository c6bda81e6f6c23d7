"""The design's roles and permissions: the vocabulary every policy is written in."""

from __future__ import annotations

from orchestrator.vocab import ROLES as ROLES

PERMISSIONS: tuple[str, ...] = (
    "workflow:create",
    "workflow:read",
    "workflow:update",
    "workflow:delete",
    "workflow:validate",
    "workflow:execute",
    "run:read",
    "run:cancel",
    "run:approve",
    "run:signal",
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
