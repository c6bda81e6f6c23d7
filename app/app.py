"""The dagq Textual app: modes, app-wide keys, the connection, and nothing else.

Screens do the work; the app routes between them.  Modes (one screen stack each):
``workflows`` (the list and, pushed on it, the Designer), ``monitor``, ``queues``,
``admin``, ``schedules`` and ``approvals``, switched with ``1``-``6`` or the command
palette.  Every mode's screen is built with the app's :class:`~app.session.Session`.
Build the app with :func:`app.factory.create_app`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from app.approvals_badge import show_count, waiting_count
from app.messages import OpenRun, PaletteCommands, RunViewer
from app.screens.connecting import ConnectingScreen, MissingScreen
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.help import HelpScreen, help_topic, unsaved_design
from app.session import ConnectionState, Session, StateChange, describe_error
from app.text import brief, clip
from app.widgets.mode_bar import ModeBar
from orchestrator.errors import DagqError, Unauthorized

MODE_SCREENS: dict[str, str] = {
    "workflows": "app.screens.workflows:WorkflowsScreen",
    "monitor": "app.screens.monitor:MonitorScreen",
    "queues": "app.screens.queues:QueuesScreen",
    "admin": "app.screens.admin:AdminScreen",
    "schedules": "app.screens.schedules:SchedulesScreen",
    "approvals": "app.screens.approvals:ApprovalsScreen",
}
"""Each mode's screen class, ``module:Class``, constructed as ``Class(session)``."""
MODE_TITLES = {
    "workflows": "Workflows",
    "monitor": "Monitor",
    "queues": "Queues",
    "admin": "Admin",
    "schedules": "Schedules",
    "approvals": "Approvals",
}
APPROVALS_POLL_S = 5.0
"""How often the title's count of waiting approvals is refreshed."""
NOTIFY_CHARS = 400
"""The most characters of one notification's message (a toast is a glance, not a log)."""
NOTIFY_TITLE_WIDTH = 60


def load_screen(path: str) -> Callable[[Session], Screen[None]]:
    """The screen class at ``module:Class``; ImportError/AttributeError when absent."""
    module, _, name = path.partition(":")
    cls: Callable[[Session], Screen[None]] = getattr(importlib.import_module(module), name)
    return cls


class DagqApp(App[None]):
    """The designer and monitor of one dagq API."""

    TITLE = "dagq"
    CSS = "Screen { background: $background; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "mode('workflows')", "Workflows", show=False),
        Binding("2", "mode('monitor')", "Monitor", show=False),
        Binding("3", "mode('queues')", "Queues", show=False),
        Binding("4", "mode('admin')", "Admin", show=False),
        Binding("5", "mode('schedules')", "Schedules", show=False),
        Binding("6", "mode('approvals')", "Approvals", show=False),
        Binding("f1", "help", "Help"),
        Binding("q", "quit", "Quit", show=False),
    ]

    def __init__(self, session: Session, *, start_mode: str = "workflows") -> None:
        super().__init__()
        self.session = session
        self.start_mode = start_mode
        theme = _theme(session.settings.workflow.tui.theme)
        if theme in self.available_themes:
            self.theme = theme
        for mode, path in MODE_SCREENS.items():
            self.add_mode(mode, self._screen_factory(mode, path))
        self._unsubscribe: Callable[[], None] | None = None
        self.approvals_waiting = 0
        """Approvals waiting for the user (:mod:`app.approvals_badge`)."""

    def _screen_factory(self, mode: str, path: str) -> Callable[[], Screen[None]]:
        def build() -> Screen[None]:
            try:
                return load_screen(path)(self.session)
            except (ImportError, AttributeError) as exc:
                # A missing screen module must not take the app down.
                return MissingScreen(MODE_TITLES.get(mode, mode), str(exc))

        return build

    # -- lifecycle ---------------------------------------------------------------------
    def get_default_screen(self) -> Screen[None]:
        """Shown until the API has told us who we are."""
        return ConnectingScreen(self.session.api_url)

    def on_mount(self) -> None:
        """Ask the API who we are, then open the first mode."""
        self._unsubscribe = self.session.subscribe(self._on_state)
        self.screen_change_signal.subscribe(self, self._screen_changed)
        self.connect()

    def _screen_changed(self, screen: Screen[Any]) -> None:
        """Give every full screen the bar naming the screens (once it is mounted)."""
        if not isinstance(screen, ModalScreen | ConnectingScreen) and not screen.query(ModeBar):
            screen.call_later(self._add_mode_bar, screen)

    def _add_mode_bar(self, screen: Screen[Any]) -> None:
        if not screen.is_attached or screen.query(ModeBar):
            return
        stack = self._screen_stacks.get(self.current_mode, [])
        over = stack and screen is not stack[0]  # opened over the mode's screen
        extra = type(screen).__name__.removesuffix("Screen") if over else ""
        first = screen.children[0] if screen.children else None
        screen.mount(ModeBar(self.mode_titles(), self.current_mode, extra), before=first)

    def mode_titles(self) -> dict[str, str]:
        """The screens' names for the mode bar; Approvals with how many wait for the user."""
        waiting = self.approvals_waiting
        return {**MODE_TITLES, **({"approvals": f"Approvals ☑{waiting}"} if waiting else {})}

    async def on_unmount(self) -> None:
        """Stop listening to the session and close its HTTP client."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self.session.aclose()

    @work(exclusive=True, group="connect")
    async def connect(self) -> None:
        """whoami (retrying while the API is unreachable), then the start mode."""
        try:
            await self.session.refresh()
        except Unauthorized as exc:
            self._show_connect_problem(f"the API refused these credentials: {exc.message}")
            return
        except DagqError as exc:
            self._show_connect_problem(f"{describe_error(exc)} — retrying")
            await self.session.reconnect()
            if self.session.state is not ConnectionState.CONNECTED:
                self._show_connect_problem(
                    f"the API refused these credentials: {self.session.detail}"
                )
                return
        await self.switch_mode(self.start_mode)
        self.set_interval(APPROVALS_POLL_S, self.approvals_badge)
        self.approvals_badge()

    @work(exclusive=True, group="badge")
    async def approvals_badge(self) -> None:
        """The count of approvals waiting for the user, visible from every screen."""
        show_count(self, await waiting_count(self.session))

    def _show_connect_problem(self, text: str) -> None:
        screen = self.screen
        if isinstance(screen, ConnectingScreen):
            screen.show_problem(text)
        else:
            self.notify(text, severity="error", timeout=8)

    def _on_state(self, change: StateChange) -> None:
        if change.state is ConnectionState.LOST:
            self.notify(
                f"Lost the connection to the API ({change.detail}); reconnecting…",
                title="Offline",
                severity="warning",
            )
            self.reconnect()
        elif change.state is ConnectionState.DENIED:
            self.notify(f"The API refused our identity: {change.detail}", severity="error")

    @work(exclusive=True, group="reconnect")
    async def reconnect(self) -> None:
        """Probe the API until it answers again (runs while the session is lost)."""
        await self.session.reconnect()
        if self.session.connected:
            self.notify("Connected to the API again.", title="Online")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a toast.  Its text is always plain: ``markup`` is ignored.

        Notifications carry server messages, handler errors and names users typed, so
        none is parsed as markup (``[/]`` would raise, ``[@click=...]`` act), controls are
        shown escaped and the message is cut after :data:`NOTIFY_CHARS` characters.
        """
        super().notify(
            brief(message, NOTIFY_CHARS),
            title=clip(title, NOTIFY_TITLE_WIDTH),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    # -- routing -------------------------------------------------------------------------
    async def action_mode(self, mode: str) -> None:
        """Switch to ``mode`` (once connected)."""
        if isinstance(self.screen, ConnectingScreen) and not self.session.connected:
            self.notify("Still connecting to the API…", severity="warning")
            return
        if mode != self.current_mode:
            await self.switch_mode(mode)

    def action_help(self) -> None:
        """Show the keys of the screen on show, and how to close the help and quit."""
        if not isinstance(self.screen, HelpScreen):
            topic = help_topic(self.screen, self.current_mode)
            shortcuts = self.session.settings.workflow.tui.shortcuts
            keys = getattr(self.screen, "kind_keys", None)
            self.push_screen(HelpScreen(shortcuts, topic, keys))

    async def action_quit(self) -> None:
        """q or ctrl+q: quit, asking first while a design has unsaved changes."""
        unsaved = [
            name
            for stack in self._screen_stacks.values()
            for screen in stack
            if (name := unsaved_design(screen)) is not None
        ]
        if not unsaved:
            self.exit()
            return

        def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.exit()

        names = ", ".join(unsaved)
        dialog = ConfirmDialog(
            f"Quit and lose the unsaved changes to {names}?",
            confirm="Quit, discard",
            cancel="Keep editing",
            danger=True,
        )
        self.push_screen(dialog, answered)

    @on(OpenRun)
    async def _open_run(self, message: OpenRun) -> None:
        await self.action_mode("monitor")
        screen = self.screen
        if isinstance(screen, RunViewer):
            screen.show_run(message.run_id)
        else:
            self.notify(f"Run {message.run_id} started.", title="Run")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The app's commands, the modes, then the active screen's own actions."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and concepts of the designer (F1)", self.action_help)
        for key, (mode, title) in enumerate(MODE_TITLES.items(), start=1):
            yield SystemCommand(
                escape(f"Go to {title}"),
                escape(f"Switch to the {title} screen ({key})"),
                _switch_to(self, mode),
            )
        if isinstance(screen, PaletteCommands):
            yield from screen.palette_commands()


def _switch_to(app: DagqApp, mode: str) -> Callable[[], object]:
    return lambda: app.run_worker(app.action_mode(mode), exclusive=True, group="mode")


def _theme(name: str) -> str:
    return {"dark": "textual-dark", "light": "textual-light"}.get(name, name)
