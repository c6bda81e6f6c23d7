"""Shows a secret once (a new API key): selectable to copy, never shown again."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from app.screens.dialogs.base import Dialog
from app.text import safe


class SecretDialog(Dialog[None]):
    """The secret in a read-only field, what it is for, and OK."""

    def __init__(self, title: str, secret: str, hint: str) -> None:
        super().__init__()
        self.title_text = title
        self.secret = secret
        self.hint = hint

    def compose(self) -> ComposeResult:
        """Hint, the secret, OK."""
        with Vertical(classes="panel") as panel:
            panel.border_title = safe(self.title_text, width=64)
            yield Static(safe(self.hint, multiline=True), classes="hint")
            yield Input(self.secret, id="secret", select_on_focus=True)
            with Horizontal(classes="buttons"):
                yield Button("I have copied it", id="ok", variant="primary")

    def on_mount(self) -> None:
        """The secret selected, ready to copy."""
        self.query_one("#secret", Input).focus()

    @on(Input.Changed, "#secret")
    def _keep(self, event: Input.Changed) -> None:
        if event.value != self.secret:  # read-only: what was shown stays
            event.input.value = self.secret

    @on(Input.Submitted, "#secret")
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.dismiss(None)
