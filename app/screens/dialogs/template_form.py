"""The form of "New from template": the new workflow's id and name, and each parameter.

Fields start at the template's defaults; the server fills the placeholders and judges
the workflow (``POST /templates/{id}/instantiate``). A refused value is shown under the
form naming its parameter, and the form stays open; a good one answers the workflow's
data, which the Designer opens as a new, unsaved workflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from app.screens.dialogs.base import Dialog
from app.session import Session, describe_error
from app.text import clip, safe, visible
from orchestrator.errors import DagqError
from orchestrator.spec.model import slugify

LABEL_WIDTH = 120


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def typed(kind: str, text: str) -> Any:
    """A field's text as a value: a number or boolean parameter's as JSON when it parses
    (``3``, ``true``; the server says what is wrong otherwise), any other as the text."""
    text = text.strip()
    if kind not in ("integer", "number", "boolean"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class TemplateForm(Dialog[dict[str, Any]]):
    """Values for a template's parameters; Create answers the workflow it makes."""

    DEFAULT_CSS = """
    TemplateForm > .panel { width: 90; }
    TemplateForm #fields { height: auto; max-height: 26; }
    TemplateForm Label { margin-top: 1; }
    """

    def __init__(self, session: Session, template: Mapping[str, Any]) -> None:
        super().__init__()
        self.session = session
        self.template = template
        self.parameters: dict[str, Mapping[str, Any]] = dict(template.get("parameters") or {})

    def compose(self) -> ComposeResult:
        """Id and name, one field per parameter, the problem line and the buttons."""
        with VerticalScroll(classes="panel") as panel:
            panel.border_title = safe(f"New from template {self.template['id']}", width=80)
            with VerticalScroll(id="fields"):
                yield Label(safe("workflow id"))
                default_id = slugify(str(self.template.get("name") or self.template["id"]))
                yield Input(value=default_id, id="wf-id", compact=True)
                yield Label(safe("workflow name (empty: the template's)"))
                yield Input(id="wf-name", compact=True)
                for name, decl in self.parameters.items():
                    words = f"{name} ({decl.get('type', 'string')})"
                    if decl.get("description"):
                        words += f" — {decl['description']}"
                    yield Label(safe(words, width=LABEL_WIDTH))
                    yield Input(
                        value=visible(_shown(decl.get("default"))),
                        placeholder="required" if decl.get("default") is None else "",
                        id=f"p-{name}",
                        compact=True,
                    )
            yield Static("", classes="problem", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Create", id="create", compact=True, variant="primary")

    def values(self) -> dict[str, Any]:
        """The parameters' values as typed (an empty field: the default)."""
        out: dict[str, Any] = {}
        for name, decl in self.parameters.items():
            text = self.query_one(f"#p-{name}", Input).value
            if text.strip():
                out[name] = typed(str(decl.get("type", "string")), text)
        return out

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#create")
    @on(Input.Submitted)
    def _create(self) -> None:
        self.make()

    @work(exclusive=True, group="instantiate")
    async def make(self) -> None:
        """Ask the server for the workflow; show why not, or answer it."""
        workflow_id = self.query_one("#wf-id", Input).value.strip()
        name = self.query_one("#wf-name", Input).value.strip() or None
        problem = self.query_one("#problem", Static)
        if not workflow_id:
            problem.update(safe("give the new workflow an id"))
            return
        try:
            made = await self.session.call(
                self.session.client.use_template(
                    str(self.template["id"]), workflow_id, self.values(), name=name, save=False
                )
            )
        except DagqError as exc:
            problem.update(safe(describe_error(exc), multiline=True))
            return
        workflow: dict[str, Any] = made.workflow
        self.notify(clip(f"{workflow_id}: save it with F10", 200), title="New from template")
        self.dismiss(workflow)
