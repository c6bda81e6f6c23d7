"""Refusing an action the cached permissions do not allow, with the server's word on it.

:func:`refuse` shows the refusal at once ("designers cannot run workflows
(workflow:execute)") and asks the server in the background
(:meth:`~app.session.Session.confirm_refusal`): the server audits the denial, so a
refused attempt is on the audit trail even though no request for the action was sent.
If the server says the permission is held now, the session's permissions are refreshed
and the user is told to try again; the action is never performed behind their back.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.screen import Screen

from app.session import Session
from orchestrator.errors import DagqError


def refuse(
    where: Screen[Any] | App[Any], session: Session, perm: str, action: str, resource: str = "*"
) -> None:
    """Tell the user ``perm`` is missing and have the server confirm (and audit) it."""
    where.notify(session.reason(perm).capitalize(), severity="warning")
    confirm_in_background(where, session, perm, action, resource)


def confirm_in_background(
    where: Screen[Any] | App[Any], session: Session, perm: str, action: str, resource: str = "*"
) -> None:
    """Ask the server about a refusal already shown (it audits a denial); say "try again"
    when the cached permissions were stale."""

    async def confirm() -> None:
        try:
            retry = await session.confirm_refusal(perm, action, resource)
        except DagqError:
            return  # the local refusal stands; the connection state says what went wrong
        if retry:
            where.notify(retry, title="Permissions updated")

    where.run_worker(confirm(), group="refusal", exit_on_error=False)
