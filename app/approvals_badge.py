"""How many approvals wait for the signed-in user, visible from every screen: in the mode
bar on top (``6 Approvals ☑2``) and in the title of screens with a header."""

from __future__ import annotations

from typing import Protocol

from textual.screen import Screen

from app.session import Session
from app.widgets.mode_bar import ModeBar

BASE_TITLE = "dagq"


class DagqAppLike(Protocol):
    """What :func:`show_count` needs of the app."""

    approvals_waiting: int
    title: str

    @property
    def screen(self) -> Screen[object]: ...

    def mode_titles(self) -> dict[str, str]: ...


async def waiting_count(session: Session) -> int:
    """Approvals waiting for the user (0 when it cannot tell: the count is a hint; and for
    a user who may not decide approvals, who is never asked)."""
    if not session.connected or not (session.can("run:read") and session.can("run:approve")):
        return 0
    try:
        rows = await session.call(session.client.approvals())
    except Exception:  # a failed poll leaves the count out, never the app
        return 0
    return len(rows)


def show_count(app: DagqAppLike, count: int) -> None:
    """Put ``count`` in the title and in the mode bar on top of every screen."""
    if count == app.approvals_waiting:
        return
    app.approvals_waiting = count
    words = f"☑ {count} approval{'s' if count != 1 else ''} waiting"
    app.title = f"{BASE_TITLE} · {words}" if count else BASE_TITLE
    for bar in app.screen.query(ModeBar):
        bar.retitle(app.mode_titles())
