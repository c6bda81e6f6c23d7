"""The policy and users files' changes on the audit trail: after the watcher's reload, and
at once after the API itself changed a user."""

from __future__ import annotations

from orchestrator.api.state import ApiState
from orchestrator.security.file_audit import FileState


async def audit_file_changes(state: ApiState) -> None:
    """Record every policy and users file version taken in since the last call."""
    if not state.settings.workflow.security.audit_logging:
        return
    for policy in state.authorizer.take_changes():
        state.files.add(FileState.of_policy(policy))
    for users in state.users.take_changes():
        state.files.add(FileState.of_users(users))
    await state.files.flush()
