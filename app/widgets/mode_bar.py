"""The line on top of every screen that names the screens and their keys
(``1 Workflows  2 Monitor  3 Queues  4 Admin  5 Schedules``), the current one marked, and
how to get help and quit.  The app puts one on each full screen it shows."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static


def mode_bar_text(titles: Mapping[str, str], current: str | None, extra: str = "") -> Text:
    """``1 Workflows  2 Monitor ...  F1 help  q quit``, the current screen reversed;
    ``extra`` names a screen opened over the current mode's (``1 Designer``)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for number, (mode, title) in enumerate(titles.items(), start=1):
        here = mode == current
        label = extra if here and extra else title
        text.append(f" {number} ", style="bold reverse" if here else "bold")
        text.append(f"{label} ", style="reverse" if here else "")
        text.append(" ")
    text.append("  F1 help  q quit", style="dim")
    return text


class ModeBar(Static):
    """The screens, their keys, help and quit: the screen's first line (under its
    header, when it has one: docked widgets would cover each other)."""

    DEFAULT_CSS = """
    ModeBar { height: 1; width: 1fr; background: $panel; color: $text; }
    """

    def __init__(self, titles: Mapping[str, str], current: str | None, extra: str = "") -> None:
        super().__init__(mode_bar_text(titles, current, extra))
        self.current, self.extra = current, extra

    def retitle(self, titles: Mapping[str, str]) -> None:
        """Name the screens anew (a count in a title changed)."""
        self.update(mode_bar_text(titles, self.current, self.extra))
