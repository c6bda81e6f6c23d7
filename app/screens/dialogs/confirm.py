"""Yes or no, with the consequence spelled out on the button."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from app.screens.dialogs.base import Dialog
from app.text import safe


class ConfirmDialog(Dialog[bool]):
    """Asks ``question``; dismisses True on the confirm button or ``y``, None on cancel,
    ``n`` or escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
    ]

    def __init__(
        self, question: str, *, confirm: str = "OK", cancel: str = "Cancel", danger: bool = False
    ) -> None:
        super().__init__()
        self.question = question
        self.confirm = confirm
        self.cancel = cancel
        self.danger = danger

    def compose(self) -> ComposeResult:
        """The question and two buttons."""
        with Vertical(classes="panel"):
            yield Static(safe(self.question, multiline=True))
            with Horizontal(classes="buttons"):
                yield Button(self.cancel, id="cancel")
                yield Button(
                    self.confirm, id="confirm", variant="error" if self.danger else "primary"
                )

    def on_mount(self) -> None:
        """Cancel is the safe default."""
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _no(self) -> None:
        self.dismiss(None)

    def action_answer(self, answer: bool) -> None:
        """Answer from the keyboard."""
        self.dismiss(True if answer else None)
