"""The screens shown when there is nothing else to show: connecting, or a screen missing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, LoadingIndicator, Static

from app.text import safe


class ConnectingScreen(Screen[None]):
    """Shown while the app asks the API who we are (and while it cannot reach it)."""

    DEFAULT_CSS = """
    ConnectingScreen Static { width: auto; max-width: 80; text-align: center; }
    ConnectingScreen #problem { color: $warning; margin-top: 1; }
    ConnectingScreen LoadingIndicator { height: 3; }
    """

    def __init__(self, api_url: str) -> None:
        super().__init__()
        self.api_url = api_url

    def compose(self) -> ComposeResult:
        """A spinner and where we are connecting to."""
        with Middle(), Center():
            # Text, not markup: an IPv6 address ("http://[::1]:8080") is not a tag.
            yield Static(safe(f"Connecting to the dagq API at {self.api_url}…"), id="where")
            yield LoadingIndicator()
            yield Static("", id="problem")
        yield Footer()

    def show_problem(self, text: str) -> None:
        """Say why the connection does not work yet."""
        self.query_one("#problem", Static).update(safe(text, multiline=True))


class MissingScreen(Screen[None]):
    """Stands in for a mode whose screen module cannot be loaded."""

    DEFAULT_CSS = "MissingScreen Static { margin: 2 4; color: $warning; }"

    def __init__(self, title: str, why: str) -> None:
        super().__init__()
        self.title_text = title
        self.why = why

    def compose(self) -> ComposeResult:
        """One sentence: what is missing and why."""
        yield Static(
            safe(f"The {self.title_text} screen is not available in this build ({self.why}).")
        )
        yield Footer()
