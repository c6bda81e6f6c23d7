"""Users and their roles, as admins see them (never a secret or a hash).

``role`` is what ``users.yaml`` says; ``policy role`` what the Casbin policy's ``g``
lines grant.  When they differ the row is flagged: the policy is what the API
enforces, so a user may have less (or more) than the file suggests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from app.text import safe
from app.widgets.ops_format import stamp
from orchestrator.wire.ops import UserInfo

WARN_STYLE = "bold #ffaf5f"
NAME_WIDTH = 40
ROLE_WIDTH = 32


def user_cells(user: UserInfo) -> tuple[Any, ...]:
    """One user's row (pure)."""
    role, policy_role, disabled = user.role, user.policyRole, user.disabled
    mismatch = bool(policy_role) and policy_role != role
    return (
        safe(user.name, width=NAME_WIDTH, style="strike dim" if disabled else "bold"),
        safe(role or "—", width=ROLE_WIDTH),
        safe(
            policy_role or "none",
            width=ROLE_WIDTH,
            style=WARN_STYLE if mismatch or not policy_role else "",
        ),
        Text(str(len(user.keys)), justify="right"),
        "yes" if user.hasPassword else "no",
        Text("disabled", style="#ff5f5f") if disabled else Text("active", style="#5fd75f"),
        stamp(user.updated),
    )


class UsersTable(DataTable[Any]):
    """One row per user."""

    DEFAULT_CSS = """
    UsersTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty table."""
        super().__init__(cursor_type="row", zebra_stripes=True, id=id, classes=classes)
        self.names: list[str] = []
        self.users_shown: list[UserInfo] = []

    def on_mount(self) -> None:
        """Columns."""
        for label in ("user", "role", "policy role", "keys", "password", "state", "updated"):
            self.add_column(label, key=label)

    def show(self, users: Sequence[UserInfo]) -> None:
        """Show ``GET /system/users``'s users, sorted by name."""
        rows = sorted(users, key=lambda u: u.name)
        selected = self.selected()
        self.clear()
        self.users_shown = rows
        self.names = [u.name for u in rows]
        for user in rows:
            self.add_row(*user_cells(user), key=user.name)
        if selected is not None and selected.name in self.names:
            self.move_cursor(row=self.names.index(selected.name))

    def selected(self) -> UserInfo | None:
        """The highlighted user (None: no rows)."""
        if not self.users_shown or not 0 <= self.cursor_row < len(self.users_shown):
            return None
        return self.users_shown[self.cursor_row]
