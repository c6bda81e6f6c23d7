""" "Save as template" from the Designer: choose which values become parameters.

The list offers the workflow's name and every handler, timeout, retry count, delay and
condition (:func:`orchestrator.spec.templatize.candidates`); the marked ones become
``{{ parameter }}`` with their current value as the default. The template is created, or
stored as a new version when its id exists. Answers a line saying what was stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from app.refusal import refuse
from app.screens.dialogs.base import Dialog
from app.session import Session, describe_error
from app.text import safe, visible
from orchestrator.errors import DagqError, NotFound
from orchestrator.spec.templatize import Candidate, candidates, templatize

ROW_WIDTH = 90


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class SaveTemplateDialog(Dialog[str]):
    """Mark values (space), name the template, Save."""

    DEFAULT_CSS = """
    SaveTemplateDialog > .panel { width: 100; }
    SaveTemplateDialog #choices { height: auto; max-height: 16; }
    """

    def __init__(self, session: Session, workflow: Mapping[str, Any]) -> None:
        super().__init__()
        self.session = session
        self.workflow = dict(workflow)
        self.candidates: list[Candidate] = candidates(self.workflow)

    def compose(self) -> ComposeResult:
        """Which values become parameters; the template's id and name."""
        with Vertical(classes="panel") as panel:
            panel.border_title = "Save as template"
            yield Label(safe("values that become parameters (space marks one):"))
            yield SelectionList[int](
                *(
                    Selection(self._row(c), i, c.path[-1] == "handler")
                    for i, c in enumerate(self.candidates)
                ),
                id="choices",
            )
            yield Label(safe("template id"))
            default_id = str(self.workflow.get("id") or "template")
            yield Input(value=visible(default_id), id="tpl-id", compact=True)
            yield Label(safe("template name"))
            yield Input(
                value=visible(str(self.workflow.get("name") or default_id)),
                id="tpl-name",
                compact=True,
            )
            yield Static("", classes="problem", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save", id="save", compact=True, variant="primary")

    @staticmethod
    def _row(c: Candidate) -> Any:
        return safe(f"{c.label} = {_value(c.value)}  →  {{{{ {c.param} }}}}", width=ROW_WIDTH)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        self.save()

    @work(exclusive=True, group="save-template")
    async def save(self) -> None:
        """Build the template and store it (a new version when the id exists)."""
        problem = self.query_one("#problem", Static)
        chosen = [self.candidates[i] for i in self.query_one(SelectionList).selected]
        template_id = self.query_one("#tpl-id", Input).value.strip()
        name = self.query_one("#tpl-name", Input).value.strip() or template_id
        try:
            template = templatize(self.workflow, chosen, template_id=template_id, name=name)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            problem.update(safe(f"{where}: {first['msg']}" if where else first["msg"]))
            return
        data = template.model_dump(mode="json", exclude_none=True)
        client = self.session.client
        try:
            try:
                current = await self.session.call(client.get_template(template_id))
            except NotFound:
                record = await self.session.call(client.create_template(data))
                outcome = "created"
            else:
                record = await self.session.call(
                    client.update_template(template_id, data, expected_version=int(current.version))
                )
                outcome = record.outcome or "updated"
        except DagqError as exc:
            problem.update(safe(describe_error(exc), multiline=True))
            return
        count = len(chosen)
        self.dismiss(
            f"template {template_id} version {record.version} ({outcome}), "
            f"{count} parameter{'s' if count != 1 else ''}"
        )


def offer_save_template(screen: Screen[Any], session: Session, workflow: Mapping[str, Any]) -> None:
    """Open the dialog over ``screen`` (when the role may write templates); say what was
    stored when it closes."""
    if not session.can("template:write"):
        target = str(workflow.get("id") or "*")
        refuse(screen, session, "template:write", "save the workflow as a template", target)
        return

    def saved(line: str | None) -> None:
        if line:
            screen.notify(line, title="Save as template")

    screen.app.push_screen(SaveTemplateDialog(session, workflow), saved)
