"""Pilot tests of managing users on the Admin screen against a real API: add (the key
shown once, and working), change the role, disable, issue a new key, reset the password;
every change on the server's audit trail, and an operator's visit refused by the server
too (so it is audited), not only by the app."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, OptionList

from app.screens.dialogs.choice import ChoiceDialog
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.dialogs.secret import SecretDialog
from app.screens.dialogs.text_input import InputDialog
from app.widgets.users_table import UsersTable
from orchestrator.client import DagqClient
from orchestrator.errors import Unauthorized
from orchestrator.wire.ops import AuditEntry, UserInfo
from tests.conftest import until
from tests.tui.conftest import Tui, notifications, type_text, wait_for

SIZE = (120, 40)


async def users_of(tui: Tui) -> dict[str, UserInfo]:
    """Every user as the API lists them."""
    async with tui.client() as client:
        return {str(u.name): u for u in await client.users()}


async def works(tui: Tui, key: str) -> bool:
    """Whether ``key`` signs in."""
    async with DagqClient(tui.api.base_url, api_key=key) as client:
        try:
            await client.whoami()
        except Unauthorized:
            return False
    return True


async def dialog(pilot: Any, kind: type) -> Any:
    """The dialog of ``kind`` once it is on show."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind), what=kind.__name__)
    return pilot.app.screen


async def test_an_admin_manages_users_through_the_api(tui: Tui) -> None:
    app = tui.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "workflows", what="connected")
        await pilot.press("4")
        await wait_for(pilot, lambda: len(app.screen.query_one(UsersTable).users_shown) == 3)
        table = app.screen.query_one(UsersTable)
        table.focus()

        await pilot.press("a")
        await dialog(pilot, InputDialog)
        await type_text(pilot, "bea")
        await pilot.press("enter")
        roles = await dialog(pilot, ChoiceDialog)
        assert roles.query_one(OptionList).option_count == 3
        await pilot.press("down", "enter")  # designer, operator, admin: operator
        await dialog(pilot, InputDialog)
        await type_text(pilot, "short")
        await pilot.press("enter")  # refused where it is typed
        assert isinstance(app.screen, InputDialog)
        await type_text(pilot, " but long now")
        await pilot.press("enter")
        secret = await dialog(pilot, SecretDialog)
        key = secret.query_one("#secret", Input).value
        assert key.startswith("dagq_") and await works(tui, key)
        await pilot.press("enter")
        bea = (await users_of(tui))["bea"]
        assert (bea.role, bea.hasPassword) == ("workflow_operator", True)

        await wait_for(pilot, lambda: "bea" in table.names, what="bea listed")
        table.focus()
        table.move_cursor(row=table.names.index("bea"))
        await pilot.press("o")
        await dialog(pilot, ChoiceDialog)
        await pilot.press("enter")  # the first: designer
        await wait_for(
            pilot,
            lambda: getattr(table.selected(), "role", None) == "workflow_designer",
            what="role changed",
        )

        await pilot.press("D")
        await dialog(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_for(pilot, lambda: getattr(table.selected(), "disabled", False), what="off")
        assert not await works(tui, key)
        await pilot.press("D")
        await dialog(pilot, ConfirmDialog)
        await pilot.press("y")
        await wait_for(pilot, lambda: not getattr(table.selected(), "disabled", True), what="on")

        await pilot.press("k")
        await dialog(pilot, ConfirmDialog)
        await pilot.press("y")
        secret = await dialog(pilot, SecretDialog)
        new_key = secret.query_one("#secret", Input).value
        await pilot.press("enter")
        assert await works(tui, new_key) and not await works(tui, key)

        await pilot.press("w")
        await dialog(pilot, InputDialog)
        await pilot.press("enter")  # empty: the password is removed
        await wait_for(pilot, lambda: getattr(table.selected(), "hasPassword", None) is False)

    async with tui.client() as client:
        entries = await client.audit(user="ada")
    done = {(e.action, e.detail) for e in entries if e.outcome == "allowed"}
    assert {
        ("createUser", "user bea"),
        ("changeUser", "user bea"),
        ("issueUserKey", "user bea"),
        ("setUserPassword", "user bea"),
    } <= done


async def test_an_operators_visit_is_refused_by_the_server_too(tui: Tui) -> None:
    app = tui.app("operator")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "workflows", what="connected")
        await pilot.press("4")
        await wait_for(pilot, lambda: bool(app.screen.query("#admins-only-message")))
        await pilot.press("a")  # refused here, with the reason
        assert "cannot administer" in notifications(app)[-1]

        async def denied() -> list[AuditEntry]:
            async with tui.client() as client:
                return [e for e in await client.audit(outcome="denied") if e.user == "otto"]

        found: list[AuditEntry] = []

        async def seen() -> bool:
            found[:] = await denied()
            return bool(found)

        await until(seen, "the server's record of the refused visit")
        assert found[0].action == "listUsers"
