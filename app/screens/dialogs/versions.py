"""Pick a stored version to open read-only, or two to compare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from app.screens.dialogs.base import Dialog
from app.text import safe
from orchestrator.wire.runs import VersionRecord

LINE_WIDTH = 300
"""Cells of one version's line (it wraps in the list)."""


@dataclass(frozen=True, slots=True)
class VersionChoice:
    """``open`` ``version`` read-only, or ``compare`` ``base`` (older) with ``version``."""

    action: str
    version: int
    base: int | None = None


def version_line(v: VersionRecord) -> Text:
    """``v3  by ada  — changed the retries`` (no clock: times are in the monitor).

    Who and the change message are users' words: plain text, one line, cut with ``…``.
    """
    who = f"  by {v.createdBy}" if v.createdBy else ""
    log = f"  — {v.changeLog}" if v.changeLog else ""
    return safe(f"v{v.version}{who}{log}", width=LINE_WIDTH)


class VersionPicker(Dialog[VersionChoice]):
    """Enter opens the highlighted version; ``m`` marks one, then ``c`` compares."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "mark", "Mark for compare"),
        Binding("c", "compare", "Compare with marked"),
    ]

    def __init__(self, workflow_id: str, versions: list[VersionRecord]) -> None:
        super().__init__()
        self.workflow_id = workflow_id
        self.versions = versions
        self.marked: int | None = None

    def compose(self) -> ComposeResult:
        """The versions, newest first, and how to use the list."""
        with Vertical(classes="panel") as panel:
            panel.border_title = safe(f"Versions of {self.workflow_id}", width=64)
            yield OptionList(
                *(Option(version_line(v), id=str(v.version)) for v in self.versions),
                id="versions",
            )
            yield Static(
                "enter: open read-only · m: mark · c: compare with the marked one · esc: close",
                classes="hint",
                id="hint",
            )

    def _highlighted(self) -> int | None:
        options = self.query_one("#versions", OptionList)
        if options.highlighted is None:
            return None
        return self.versions[options.highlighted].version

    def action_mark(self) -> None:
        """Remember the highlighted version as the base of a comparison."""
        self.marked = self._highlighted()
        if self.marked is not None:
            self.query_one("#hint", Static).update(
                safe(f"v{self.marked} marked · highlight another version and press c to compare")
            )

    def action_compare(self) -> None:
        """Compare the marked version with the highlighted one (older first)."""
        current = self._highlighted()
        if self.marked is None or current is None or current == self.marked:
            self.query_one("#hint", Static).update(
                "mark one version with m, then highlight another and press c"
            )
            return
        base, newer = sorted((self.marked, current))
        self.dismiss(VersionChoice("compare", newer, base))

    @on(OptionList.OptionSelected)
    def _open(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(VersionChoice("open", int(event.option.id or 0)))
