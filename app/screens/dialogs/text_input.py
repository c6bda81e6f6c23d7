"""One line of text, checked as it is typed."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from app.screens.dialogs.base import Dialog
from app.text import clip, safe, visible

TITLE_WIDTH = 64
TextCheck = Callable[[str], str | None]
"""The problem with the typed text, or None."""


class InputDialog(Dialog[str]):
    """Asks for one value; Enter answers (when ``check`` finds nothing wrong)."""

    def __init__(
        self,
        title: str,
        *,
        value: str = "",
        placeholder: str = "",
        hint: str = "",
        check: TextCheck | None = None,
        password: bool = False,
        allow_empty: bool = False,
    ) -> None:
        super().__init__()
        self.password = password
        self.allow_empty = allow_empty
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.hint = hint
        self.check = check

    def compose(self) -> ComposeResult:
        """Title, field, problem line, hint."""
        with Vertical(classes="panel") as panel:
            panel.border_title = safe(self.title_text, width=TITLE_WIDTH)
            yield Input(
                value=visible(self.value),
                placeholder=clip(self.placeholder, 200),
                id="value",
                password=self.password,
            )
            yield Static("", classes="problem", id="problem")
            if self.hint:
                yield Static(safe(self.hint, multiline=True), classes="hint")

    def problem(self, text: str) -> str | None:
        """What is wrong with ``text``, if anything."""
        if not text.strip():
            return None if self.allow_empty else "type a value (or press Escape to cancel)"
        return self.check(text.strip()) if self.check else None

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#problem", Static).update("")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self.problem(event.value)
        if problem:
            # The problem may quote what was typed: plain text, never markup.
            self.query_one("#problem", Static).update(safe(problem, multiline=True))
            return
        self.dismiss(event.value.strip())
