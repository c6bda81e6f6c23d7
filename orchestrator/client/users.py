"""The client's calls that manage users (mixed into ``DagqClient``); admins only."""

from __future__ import annotations

from typing import Any

from orchestrator.client.base import PREFIX, Calls, q
from orchestrator.wire.ops import CreatedUser, IssuedKey, UserInfo


def _user(name: str) -> str:
    return f"{PREFIX}/system/users/{q(name)}"


class UserCalls(Calls):
    """Users over the API."""

    async def create_user(
        self, name: str, role: str, *, password: str | None = None
    ) -> CreatedUser:
        """Add a user and its first API key (the key is shown once)."""
        body: dict[str, Any] = {"name": name, "role": role}
        if password is not None:
            body["password"] = password
        return await self._as(CreatedUser, "POST", f"{PREFIX}/system/users", body=body)

    async def change_user(
        self, name: str, *, role: str | None = None, disabled: bool | None = None
    ) -> UserInfo:
        """Change a user's role and/or disable or enable it; the user as it is now."""
        body = {k: v for k, v in (("role", role), ("disabled", disabled)) if v is not None}
        return await self._as(UserInfo, "PATCH", _user(name), body=body)

    async def issue_user_key(self, name: str) -> str:
        """A new API key for ``name`` (its older keys stop working)."""
        return (await self._as(IssuedKey, "POST", f"{_user(name)}/keys")).apiKey

    async def set_user_password(self, name: str, password: str | None) -> UserInfo:
        """Set the user's web password (None removes it)."""
        return await self._as(
            UserInfo, "PUT", f"{_user(name)}/password", body={"password": password}
        )
