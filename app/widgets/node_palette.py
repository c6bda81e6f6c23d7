"""The node palette: the node types of :mod:`app.kinds`, chosen with a letter or Enter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from app.kinds import KINDS


class NodePalette(OptionList):
    """Lists the node types as ``[T] Task``...; a letter or Enter posts :class:`TypeChosen`."""

    DEFAULT_CSS = "NodePalette { height: auto; max-height: 8; }"
    _BY_LETTER: ClassVar[dict[str, str]] = {view.letter: kind for kind, view in KINDS.items()}

    @dataclass
    class TypeChosen(Message):
        """The user picked a node type to add."""

        node_type: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            # Text, not a str: "[T]" would be read as console markup.
            *(
                Option(Text(f"[{view.letter.upper()}] {view.label}"), id=kind)
                for kind, view in KINDS.items()
            ),
            id=id,
        )

    def on_key(self, event: events.Key) -> None:
        """A type's letter picks it at once."""
        kind = self._BY_LETTER.get(event.key)
        if kind is not None:
            event.stop()
            self.highlighted = list(KINDS).index(kind)
            self.post_message(self.TypeChosen(kind))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter (or a click) on a type picks it."""
        event.stop()
        if event.option.id is not None:
            self.post_message(self.TypeChosen(event.option.id))
