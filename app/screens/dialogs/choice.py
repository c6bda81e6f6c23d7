"""A dialog that picks one of a few labelled things (Enter or a click; Escape cancels)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from app.screens.dialogs.base import Dialog
from app.text import safe, visible


class ChoiceDialog(Dialog[str]):
    """Lists ``choices`` (key, label); answers with the chosen key."""

    DEFAULT_CSS = "ChoiceDialog OptionList { height: auto; max-height: 16; }"

    def __init__(self, title: str, choices: Sequence[tuple[str, str]], *, hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.hint = hint

    def compose(self) -> ComposeResult:
        """The hint, then the list."""
        with Vertical(classes="panel") as panel:
            panel.border_title = safe(self.title_text, width=64)
            if self.hint:
                yield Static(safe(self.hint, multiline=True), classes="hint")
            # Text, not a str: labels are the user's words, never console markup.
            yield OptionList(*(Option(Text(visible(label)), id=key) for key, label in self.choices))

    def on_mount(self) -> None:
        """Start on the first choice."""
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
