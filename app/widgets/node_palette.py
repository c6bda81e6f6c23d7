"""The node palette: the node types of :mod:`app.kinds`, chosen with a letter or Enter."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from app.kinds import KINDS


def palette_keys(taken: Collection[str]) -> dict[str, str]:
    """The key that adds each kind on the canvas: its letter, or the capital letter when
    the lower case one does something else there (``d`` deletes: ``D`` adds a decision).
    A kind whose both letters are taken has no canvas key (the palette still offers it)."""
    out: dict[str, str] = {}
    for kind, view in KINDS.items():
        for key in (view.letter, view.letter.upper()):
            if key and key not in taken and key not in out.values():
                out[kind] = key
                break
    return out


class NodePalette(OptionList):
    """Lists the node types as ``[t] Task``...; a letter or Enter posts :class:`TypeChosen`.

    ``keys`` are the keys that add each kind on the canvas: the palette shows them, and
    takes them as well as the kinds' letters."""

    DEFAULT_CSS = "NodePalette { height: auto; max-height: 8; }"

    @dataclass
    class TypeChosen(Message):
        """The user picked a node type to add."""

        node_type: str

    def __init__(self, *, id: str | None = None, keys: Mapping[str, str] | None = None) -> None:
        shown = {kind: (keys or {}).get(kind, view.letter) for kind, view in KINDS.items()}
        super().__init__(
            # Text, not a str: "[t]" would be read as console markup.
            *(
                Option(Text(f"[{shown[kind]}] {view.label}"), id=kind)
                for kind, view in KINDS.items()
            ),
            id=id,
        )
        self._by_key = {view.letter: kind for kind, view in KINDS.items() if view.letter}
        self._by_key.update({key: kind for kind, key in shown.items() if key})

    def on_key(self, event: events.Key) -> None:
        """A type's letter (or its canvas key) picks it at once."""
        kind = self._by_key.get(event.key)
        if kind is not None:
            event.stop()
            self.highlighted = list(KINDS).index(kind)
            self.post_message(self.TypeChosen(kind))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter (or a click) on a type picks it."""
        event.stop()
        if event.option.id is not None:
            self.post_message(self.TypeChosen(event.option.id))
