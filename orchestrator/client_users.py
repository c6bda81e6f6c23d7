"""The client's calls that manage users (mixed into ``DagqClient``); admins only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

PREFIX = "/api/v1"


def _user(name: str) -> str:
    return f"{PREFIX}/system/users/{quote(name, safe='')}"


class UserCalls:
    """Users over the API; ``_obj`` comes from ``DagqClient``."""

    async def _obj(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        raise NotImplementedError

    async def create_user(
        self, name: str, role: str, *, password: str | None = None
    ) -> dict[str, Any]:
        """Add a user; ``{"user": {...}, "apiKey": "dagq_..."}`` (the key is shown once)."""
        body: dict[str, Any] = {"name": name, "role": role}
        if password is not None:
            body["password"] = password
        return await self._obj("POST", f"{PREFIX}/system/users", body=body)

    async def change_user(
        self, name: str, *, role: str | None = None, disabled: bool | None = None
    ) -> dict[str, Any]:
        """Change a user's role and/or disable or enable it; the user as it is now."""
        body = {k: v for k, v in (("role", role), ("disabled", disabled)) if v is not None}
        return await self._obj("PATCH", _user(name), body=body)

    async def issue_user_key(self, name: str) -> str:
        """A new API key for ``name`` (its older keys stop working)."""
        return str((await self._obj("POST", f"{_user(name)}/keys"))["apiKey"])

    async def set_user_password(self, name: str, password: str | None) -> dict[str, Any]:
        """Set the user's web password (None removes it)."""
        return await self._obj("PUT", f"{_user(name)}/password", body={"password": password})
