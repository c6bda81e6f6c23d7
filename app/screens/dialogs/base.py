"""What every dialog shares: a centred panel, Escape cancels (dismisses with None)."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """A modal panel; ``escape`` dismisses it with None."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > .panel {
        width: 72; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; background: $panel; padding: 1 2;
    }
    Dialog .buttons { height: auto; align-horizontal: right; margin-top: 1; }
    Dialog .buttons Button { margin-left: 2; }
    Dialog .problem { color: $error; height: auto; }
    Dialog .hint { color: $text-muted; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)
