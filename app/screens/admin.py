"""Admin: users and roles, the policy status, the audit log.

Everything here needs ``system:configure``; other roles see one clear sentence
("operators cannot administer the system (system:configure)") and nothing is asked
of the API.  The audit log is newest first, filtered by user and outcome, paged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Middle, Vertical
from textual.widgets import Footer, Header, Static

from app.screens.admin_users import ADMIN_PERMISSION, AdminUsers
from app.session import Session
from app.text import safe
from app.widgets.audit_log import AuditLog
from app.widgets.policy_status import PolicyStatus
from app.widgets.users_table import UsersTable


class AdminScreen(AdminUsers):
    """Users, policy and audit, for admins."""

    CSS_PATH = "admin.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "refresh", "Refresh"),
        Binding("slash", "filter_user", "Filter user"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """The admin screen of ``session``'s API."""
        super().__init__(session, name=name, id=id, classes=classes)

    @property
    def allowed(self) -> bool:
        """True when this identity may administer the system."""
        return self.session.can(ADMIN_PERMISSION)

    def compose(self) -> ComposeResult:
        """Users | policy over the audit log; or why not."""
        yield Header(show_clock=False, icon="◈")
        if not self.allowed:
            with Middle(id="admins-only"), Center():
                yield Static(
                    safe(
                        f"Admins only: {self.blocked(ADMIN_PERMISSION)}.\n"
                        "Ask an admin for the workflow_admin role to see users, the policy "
                        "status and the audit log.",
                        multiline=True,
                    ),
                    id="admins-only-message",
                )
            yield Footer()
            return
        with Horizontal(id="admin-top"):
            yield UsersTable(id="users-table")
            with Vertical(id="policy-pane"):
                yield PolicyStatus(id="policy-status")
        yield AuditLog(id="audit-log")
        yield Footer()

    def on_mount(self) -> None:
        """Titles and the first load."""
        self.sub_title = "Admin"
        if not self.allowed:
            self.attempt()
            return
        self.query_one("#users-table").border_title = "Users and roles"
        self.query_one("#policy-pane").border_title = "Policy"
        self.query_one("#audit-log").border_title = "Audit log"
        self.action_refresh()

    def on_screen_resume(self) -> None:
        """Show what changed while another mode was shown."""
        if self.allowed and self.is_mounted:
            self.action_refresh()

    @property
    def audit_log(self) -> AuditLog:
        """The audit viewer."""
        return self.query_one(AuditLog)

    @work(exclusive=True, group="users")
    async def attempt(self) -> None:
        """Ask anyway, so the server refuses and records the attempt too (not only this
        app): the audit shows who tried to administer."""
        await self.api(self.session.client.users(), quiet=True)

    @work(exclusive=True, group="users")
    async def load_users(self) -> None:
        """``GET /system/users``."""
        users = await self.api(self.session.client.users())
        if users is not None:
            self.query_one(UsersTable).show(users)

    @work(exclusive=True, group="policy")
    async def load_policy(self) -> None:
        """``GET /system/policy``."""
        status = await self.api(self.session.client.policy_status())
        if status is not None:
            self.query_one(PolicyStatus).show(status)

    @work(exclusive=True, group="audit")
    async def load_audit(self, query: AuditLog.QueryChanged) -> None:
        """``GET /audit`` with the viewer's filters and page."""
        viewer = self.audit_log
        entries = await self.api(
            self.session.client.audit(
                limit=viewer.page_size, user=query.user, outcome=query.outcome, before=query.before
            )
        )
        if entries is not None:
            viewer.show(entries)

    @on(AuditLog.QueryChanged)
    def _audit_query(self, message: AuditLog.QueryChanged) -> None:
        self.load_audit(message)

    def action_refresh(self) -> None:
        """Reload users, policy and the audit page."""
        if not self.allowed:
            self.refuse(self.blocked(ADMIN_PERMISSION))
            return
        self.load_users()
        self.load_policy()
        self.load_audit(self.audit_log.current_query())

    def action_filter_user(self) -> None:
        """Focus the audit log's user filter."""
        if self.allowed:
            self.query_one("#audit-user").focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Admin actions for the command palette."""
        reason = self.blocked(ADMIN_PERMISSION)
        yield self.command(
            "Refresh admin", "Reload users, policy status and audit log (ctrl+r)",
            self.action_refresh, reason,
        )  # fmt: skip
        yield self.command(
            "Filter audit by user", "Type a user name to filter the audit log (/)",
            self.action_filter_user, reason,
        )  # fmt: skip
        yield from self.user_commands()
