"""Requests any screen may post to the app; the app decides where to go.

Screens never reach into each other: a screen posts one of these
(``self.post_message(OpenRun(id))``),
it bubbles up to :class:`~app.app.DagqApp`, which switches mode and hands the
target screen what it needs:

- :class:`OpenRun` switches to the ``monitor`` mode and calls the monitor screen's
  ``show_run(run_id)`` (see :class:`RunViewer`).

Command palette: the app asks the active screen for its commands; a screen that
offers ``palette_commands()`` (see :class:`PaletteCommands`) gets them listed after
the app's own (mode switching, help, quit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from textual.app import SystemCommand
from textual.message import Message


@dataclass
class OpenRun(Message):
    """Show this run in the monitor."""

    run_id: str
    workflow_id: str | None = None


@runtime_checkable
class RunViewer(Protocol):
    """What the monitor screen offers the app: show one run (select it and follow it)."""

    def show_run(self, run_id: str) -> None:
        """Select ``run_id`` and follow its events."""


@runtime_checkable
class PaletteCommands(Protocol):
    """A screen that lists its actions in the command palette."""

    def palette_commands(self) -> Iterable[SystemCommand]:
        """``SystemCommand(title, help, callback)`` for every action of the screen."""
