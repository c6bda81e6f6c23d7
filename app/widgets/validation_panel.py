"""The validator's findings, one line each; choosing one selects its node on the canvas.

Once the live workers' handler names are known (:meth:`ValidationPanel.set_offered`), a
node whose handler none of them offers is a warning too, with the nearest names: a run of
it would wait for a worker that never comes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from app.text import safe
from orchestrator.spec.handlers import handler_issues
from orchestrator.spec.loader import SpecIssue

MESSAGE_WIDTH = 300
"""Cells of one message (it wraps); a message that quotes a huge name ends in ``…``."""


def issue_line(issue: SpecIssue, *, warning: bool = False) -> Text:
    """``✗ node: message`` (errors) or ``! message`` (warnings)."""
    mark = Text("! ", style="bold yellow") if warning else Text("✗ ", style="bold red")
    return mark + safe(issue.message, width=MESSAGE_WIDTH)


class ValidationPanel(OptionList):
    """Lists errors then warnings; Enter on one posts :class:`IssueChosen`."""

    DEFAULT_CSS = "ValidationPanel { height: 1fr; min-height: 3; }"

    @dataclass
    class IssueChosen(Message):
        """The user chose an issue; ``node_id`` is the node it is about, if any."""

        node_id: str | None
        message: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._issues: list[SpecIssue] = []
        self._shown: tuple[Sequence[SpecIssue], Sequence[SpecIssue], Mapping[str, str]] = (
            (),
            (),
            {},
        )
        self._offered: list[str] | None = None
        self.warnings: list[SpecIssue] = []
        """The warnings shown: the validator's, then handlers no live worker offers."""

    def set_offered(self, names: Sequence[str]) -> None:
        """The handler names live workers offer: check the nodes' handlers against them."""
        self._offered = list(names)
        self.show(*self._shown)

    def show(
        self,
        errors: Sequence[SpecIssue],
        warnings: Sequence[SpecIssue] = (),
        handlers: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the list with these findings (``handlers``: node id -> handler name)."""
        self._shown = (errors, warnings, dict(handlers or {}))
        warnings = list(warnings)
        if self._offered is not None and handlers:
            warnings += handler_issues(handlers, self._offered, by="live worker")
        self.warnings = warnings
        self._issues = [*errors, *warnings]
        self.clear_options()
        if not self._issues:
            self.add_option(Option(Text("No problems found ✓", style="green"), disabled=True))
            return
        self.add_options(
            [Option(issue_line(e)) for e in errors]
            + [Option(issue_line(w, warning=True)) for w in warnings]
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on an issue: tell the screen which node it is about."""
        event.stop()
        if 0 <= event.option_index < len(self._issues):
            issue = self._issues[event.option_index]
            self.post_message(self.IssueChosen(issue.node_id, issue.message))
