"""How many approvals wait for the signed-in user, visible from every screen: in the
footer (the ``6`` key, which opens them) and in the title of screens with a header."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from app.session import Session

BASE_TITLE = "dagq"
KEY = "6"
ACTION = "mode('approvals')"


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


def show_count(app: App[None], count: int) -> None:
    """Put ``count`` in the title and on the footer's ``6`` key (hidden when 0)."""
    words = f"☑ {count} approval{'s' if count != 1 else ''} waiting"
    app.title = f"{BASE_TITLE} · {words}" if count else BASE_TITLE
    # The app's own binding of 6 (switch to Approvals), shown with the count while any wait.
    binding = Binding(KEY, ACTION, words if count else "Approvals", show=bool(count))
    app._bindings.key_to_bindings[KEY] = [binding]
    app.refresh_bindings()
