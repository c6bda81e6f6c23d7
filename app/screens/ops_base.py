"""What the operations screens (Monitor, Queues, Admin) share.

:class:`OpsScreen` holds the app's :class:`~app.session.Session`, runs API calls so
that no error escapes a worker (:meth:`OpsScreen.api` turns any failure into a
notification and returns None), and offers its actions in the command palette: each
screen lists them in :meth:`OpsScreen.palette_commands`
(the app lists them after its own) with, for unavailable ones, the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from textual.app import SystemCommand
from textual.markup import escape
from textual.screen import Screen
from textual.timer import Timer

from app.refusal import confirm_in_background
from app.screens.dialogs.confirm import ConfirmDialog
from app.session import Session, describe_error
from orchestrator.errors import DagqError, Forbidden

T = TypeVar("T")


class OpsScreen(Screen[None]):
    """Base of the Monitor, Queues and Admin screens."""

    def __init__(
        self,
        session: Session,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """A screen over ``session``."""
        super().__init__(name=name, id=id, classes=classes)
        self.session = session

    def palette_commands(self) -> Iterable[SystemCommand]:
        """The screen's actions for the app's command palette (override)."""
        return ()

    def command(
        self, title: str, help: str, callback: Callable[[], object], reason: str = ""
    ) -> SystemCommand:
        """A palette entry; when ``reason`` says it is unavailable, choosing it says why."""
        # The palette reads help as markup, and a reason can quote a role's name.
        if reason:
            return SystemCommand(
                title, escape(f"{help} (unavailable: {reason})"), lambda: self.refuse(reason)
            )
        return SystemCommand(title, escape(help), callback)

    def blocked(self, perm: str) -> str:
        """Why the user cannot use ``perm`` (empty when they can)."""
        return self.session.reason(perm)

    def refuse(self, reason: str) -> None:
        """Tell the user why an action is not available."""
        self.notify(reason, title="Not available", severity="warning")

    def refuse_permission(self, perm: str, action: str, resource: str = "*") -> None:
        """Refuse for a missing ``perm`` and have the server confirm (and audit) it."""
        self.refuse(self.session.reason(perm))
        confirm_in_background(self, self.session, perm, action, resource)

    async def api(self, awaitable: Awaitable[T], *, quiet: bool = False) -> T | None:
        """Await one client call; on any error show it (unless ``quiet``) and return None.

        The session records lost and regained connections; a 403 reads as the role's
        limit, not as a failure of the app.
        """
        try:
            return await self.session.call(awaitable)
        except Forbidden as exc:
            if not quiet:
                self.notify(describe_error(exc), title="Not allowed", severity="warning")
        except DagqError as exc:
            if not quiet:
                self.notify(describe_error(exc), title="API error", severity="error")
        except Exception as exc:  # an answer of the wrong shape (KeyError...) must not crash
            if not quiet:
                self.notify(describe_error(exc), title="Unexpected error", severity="error")
        return None


class PollingScreen(OpsScreen):
    """An operations screen that reloads every ``refresh_s`` while it is shown."""

    def __init__(
        self,
        session: Session,
        *,
        refresh_s: float = 1.0,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """A screen over ``session`` polling every ``refresh_s`` once started."""
        super().__init__(session, name=name, id=id, classes=classes)
        self.refresh_s = refresh_s
        self._timer: Timer | None = None

    def load(self) -> object:
        """Reload the screen's data (override; usually a worker)."""
        raise NotImplementedError

    def start_polling(self) -> None:
        """Load now, then every ``refresh_s``."""
        self.load()
        self._timer = self.set_interval(self.refresh_s, self.load)

    def on_screen_suspend(self) -> None:
        """No polling while another mode is shown."""
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        """Poll again, starting now."""
        if self._timer is not None:
            self._timer.resume()
            self.load()


def confirm_then(
    screen: Screen[Any],
    question: str,
    then: Callable[[], object],
    *,
    yes: str = "Yes",
    no: str = "Cancel",
) -> None:
    """Ask ``question`` (buttons ``no`` and ``yes``); call ``then`` only if the answer is yes."""

    def answered(ok: bool | None) -> None:
        if ok:
            then()

    screen.app.push_screen(ConfirmDialog(question, confirm=yes, cancel=no, danger=True), answered)
