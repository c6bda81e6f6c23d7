"""A tiny real Textual app the e2e tests serve in place of the designer.

Shows who it runs for (from the session variables the web server passes) and echoes what is
typed, so a test can prove the browser reaches the app both ways.
"""

from __future__ import annotations

import os

from textual.app import App, ComposeResult
from textual.widgets import Input, Static

GREETING = "Hello from the dagq e2e app"


class HelloApp(App[None]):
    """A greeting line, an input, and an echo of the last submitted input."""

    def compose(self) -> ComposeResult:
        user = os.environ.get("DAGQ_USER", "?")
        role = os.environ.get("DAGQ_ROLE", "?")
        yield Static(f"{GREETING}, {user} ({role})", id="greeting")
        # The e2e server plants this in its own environment; the app must never see it.
        leaked = "DAGQ_E2E_PLANTED_SECRET" in os.environ
        yield Static(f"server secret visible: {'yes' if leaked else 'no'}", id="leak")
        yield Input(placeholder="type here", id="entry")
        yield Static("", id="echo")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Echo the submitted text below the input."""
        self.query_one("#echo", Static).update(f"You typed: {event.value}")


if __name__ == "__main__":
    HelloApp().run()
