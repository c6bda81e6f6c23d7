"""How many approvals wait for the signed-in user, in the app's title on every screen."""

from __future__ import annotations

from app.session import Session

BASE_TITLE = "dagq"


async def badge_title(session: Session) -> str:
    """``dagq · ☑ 2 approvals waiting`` (just ``dagq`` when none, or when it cannot tell)."""
    if not session.connected or not session.can("run:read"):
        return BASE_TITLE
    try:
        rows = await session.call(session.client.approvals())
    except Exception:  # the title is a hint: a failed poll leaves it plain
        return BASE_TITLE
    n = len(rows)
    if not n:
        return BASE_TITLE
    return f"{BASE_TITLE} · ☑ {n} approval{'s' if n != 1 else ''} waiting (6)"
