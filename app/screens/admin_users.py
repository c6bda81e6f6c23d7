"""The Admin screen's user management: add a user, change a role, disable or enable,
issue a new API key, reset the password — each through the API (so each is authorized
and audited by the server), each asked once, each secret shown once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding, BindingType

from app.screens.dialogs.choice import ChoiceDialog
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.dialogs.secret import SecretDialog
from app.screens.dialogs.text_input import InputDialog
from app.screens.ops_base import OpsScreen
from app.widgets.users_table import UsersTable
from orchestrator.errors import BadRequest
from orchestrator.security.roles import ROLES
from orchestrator.security.users import check_name, check_password
from orchestrator.wire.ops import UserInfo

ADMIN_PERMISSION = "system:configure"
ROLE_WORDS = {
    "workflow_designer": "designer: draws and saves workflows",
    "workflow_operator": "operator: runs and watches them",
    "workflow_admin": "admin: everything, users included",
}
KEY_HINT = (
    "This is {name}'s API key. It is shown once, here: copy it now and give it to them "
    "(dagq --api-key, or DAGQ_API_KEY). Older keys of {name} no longer work."
)


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a user name (the server's own rule), or None."""
    try:
        check_name(text)
    except BadRequest as exc:
        return exc.message
    return None


def password_problem(text: str) -> str | None:
    """Why ``text`` cannot be a password (its length), or None."""
    try:
        check_password(text)
    except BadRequest as exc:
        return exc.message
    return None


class AdminUsers(OpsScreen):
    """Users managed from the Admin screen (the table's selected user)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_user", "Add user"),
        Binding("o", "change_role", "Role"),
        Binding("D", "toggle_disabled", "Disable/enable"),
        Binding("k", "new_key", "New key"),
        Binding("w", "reset_password", "Password"),
    ]

    def load_users(self) -> Any:
        """Reload the users table (the screen's)."""
        raise NotImplementedError

    def selected_user(self) -> UserInfo | None:
        """The user of the table's highlighted row (None: none, or not an admin)."""
        tables = self.query(UsersTable)
        if not tables:
            return None
        return tables.first().selected()

    def _ready(self) -> bool:
        reason = self.blocked(ADMIN_PERMISSION)
        if reason:
            self.refuse(reason)
            return False
        return True

    def _need_user(self) -> UserInfo | None:
        user = self.selected_user() if self._ready() else None
        if user is None and not self.blocked(ADMIN_PERMISSION):
            self.notify("Select a user in the table first.")
        return user

    # -- add ---------------------------------------------------------------------------
    def action_add_user(self) -> None:
        """Name, role, optional password; then the new key, shown once."""
        if not self._ready():
            return
        state: dict[str, str] = {}

        def named(name: str | None) -> None:
            if name:
                state["name"] = name
                self.app.push_screen(self._role_dialog(f"Role of {name}"), roled)

        def roled(role: str | None) -> None:
            if role:
                state["role"] = role
                dialog = InputDialog(
                    f"Web password of {state['name']} (optional)",
                    placeholder="empty: API key only",
                    hint="8 characters or more; Enter with nothing typed skips it.",
                    check=password_problem,
                    password=True,
                    allow_empty=True,
                )
                self.app.push_screen(dialog, passworded)

        def passworded(password: str | None) -> None:
            if password is not None:
                self.add_user(state["name"], state["role"], password or None)

        dialog = InputDialog(
            "Add a user",
            placeholder="name (letters, digits, . _ @ -)",
            check=name_problem,
        )
        self.app.push_screen(dialog, named)

    @work(exclusive=True, group="user-change")
    async def add_user(self, name: str, role: str, password: str | None) -> None:
        """``POST /system/users``; the key shown once."""
        created = await self.api(self.session.client.create_user(name, role, password=password))
        if created is None:
            return
        self.notify(f"Added {name} ({ROLE_WORDS[role].split(':')[0]})", title="Users")
        self.load_users()
        hint = KEY_HINT.format(name=name)
        await self.app.push_screen_wait(SecretDialog(f"API key of {name}", created.apiKey, hint))

    # -- change --------------------------------------------------------------------------
    def _role_dialog(self, title: str) -> ChoiceDialog:
        return ChoiceDialog(title, [(role, ROLE_WORDS[role]) for role in ROLES])

    def action_change_role(self) -> None:
        """Pick the selected user's new role."""
        user = self._need_user()
        if user is None:
            return
        name = user.name

        def chosen(role: str | None) -> None:
            if role and role != user.role:
                self._change(
                    f"{name} is now {role}", self.session.client.change_user(name, role=role)
                )

        self.app.push_screen(self._role_dialog(f"New role of {name} (now {user.role})"), chosen)

    def action_toggle_disabled(self) -> None:
        """Disable the selected user (keys and password refused), or enable them again."""
        user = self._need_user()
        if user is None:
            return
        name, disable = user.name, not user.disabled
        verb = "Disable" if disable else "Enable"
        question = (
            f"Disable {name}? Their API keys and password stop working at once."
            if disable
            else f"Enable {name} again? Their API key and password work again."
        )
        call = self.session.client.change_user
        self._confirm(
            question,
            f"{verb} {name}",
            lambda: self._change(
                f"{name} {'disabled' if disable else 'enabled'}", call(name, disabled=disable)
            ),
            danger=disable,
        )

    def action_new_key(self) -> None:
        """Issue the selected user a new API key (their older keys stop working)."""
        user = self._need_user()
        if user is None:
            return
        name = user.name
        question = f"Issue {name} a new API key? Their current keys stop working at once."
        self._confirm(question, "Issue new key", lambda: self.new_key(name), danger=True)

    @work(exclusive=True, group="user-change")
    async def new_key(self, name: str) -> None:
        """``POST /system/users/{name}/keys``; the key shown once."""
        key = await self.api(self.session.client.issue_user_key(name))
        if key is None:
            return
        self.load_users()
        await self.app.push_screen_wait(
            SecretDialog(f"New API key of {name}", key, KEY_HINT.format(name=name))
        )

    def action_reset_password(self) -> None:
        """Set the selected user's web password (typed twice is not needed: it is hidden
        but an admin can set it again; empty removes it)."""
        user = self._need_user()
        if user is None:
            return
        name = user.name

        def typed(password: str | None) -> None:
            if password is None:
                return
            what = f"password of {name} {'set' if password else 'removed'}"
            self._change(what, self.session.client.set_user_password(name, password or None))

        dialog = InputDialog(
            f"New web password of {name}",
            placeholder="empty: remove it (API keys only)",
            hint="8 characters or more. They sign in to the web UI with it.",
            check=password_problem,
            password=True,
            allow_empty=True,
        )
        self.app.push_screen(dialog, typed)

    # -- helpers -------------------------------------------------------------------------
    def _confirm(
        self, question: str, confirm: str, then: Callable[[], object], *, danger: bool = False
    ) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        dialog = ConfirmDialog(question, confirm=confirm, cancel="Keep as is", danger=danger)
        self.app.push_screen(dialog, answered)

    @work(group="user-change")
    async def _change(self, what: str, call: Awaitable[Any]) -> None:
        if await self.api(call) is not None:
            self.notify(what[0].upper() + what[1:], title="Users")
            self.load_users()

    def user_commands(self) -> Iterable[SystemCommand]:
        """The user actions for the command palette."""
        reason = self.blocked(ADMIN_PERMISSION)
        for title, help_text, action in (
            ("Add user", "Name, role, password; the key is shown once (a)", self.action_add_user),
            ("Change role", "The selected user's role (o)", self.action_change_role),
            ("Disable or enable user", "The selected user (D)", self.action_toggle_disabled),
            ("New API key", "For the selected user; older keys stop (k)", self.action_new_key),
            ("Reset password", "The selected user's web password (w)", self.action_reset_password),
        ):
            yield self.command(title, help_text, action, reason)
