""" "New from template": the templates (the shipped gallery and the team's own), each with
its description and a preview of the graph it makes; Enter opens the parameter form
(:class:`~app.screens.dialogs.template_form.TemplateForm`), which answers the new
workflow's data for the Designer."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from app.screens.dialogs.base import Dialog
from app.screens.dialogs.template_form import TemplateForm
from app.session import Session, describe_error
from app.text import safe
from app.widgets.canvas_view import CanvasView
from orchestrator.errors import DagqError
from orchestrator.spec.model import WorkflowSpec
from orchestrator.spec.template import TemplateSpec, preview_values, render
from orchestrator.wire.triggers import TemplateRow

ROW_WIDTH = 34
DETAIL_WIDTH = 400


def preview_graph(template: dict[str, Any]) -> Any:
    """What the canvas draws for a template: its workflow with the defaults (stand-ins for
    parameters without one), or just its node ids and edges when that is not a workflow."""
    spec = TemplateSpec.model_validate(template)
    data, _ = render(spec.workflow, preview_values(spec))
    data["id"] = "preview"
    data.pop("schedules", None)
    try:
        return WorkflowSpec.model_validate(data)
    except ValidationError:
        nodes = [str(n.get("id")) for n in data.get("nodes") or [] if isinstance(n, dict)]
        edges = [
            (str(e.get("source")), str(e.get("target")))
            for e in data.get("edges") or []
            if isinstance(e, dict)
        ]
        return (nodes, edges)


class TemplateGallery(Dialog[dict[str, Any]]):
    """Pick a template; Enter fills in its parameters and answers the new workflow."""

    DEFAULT_CSS = """
    TemplateGallery > .panel { width: 120; height: 36; max-width: 98%; max-height: 95%; }
    TemplateGallery #gallery-body { height: 1fr; }
    TemplateGallery #gallery-list { width: 36; height: 1fr; }
    TemplateGallery #gallery-side { width: 1fr; height: 1fr; padding-left: 1; }
    TemplateGallery #gallery-detail { height: auto; max-height: 8; }
    TemplateGallery #gallery-preview { height: 1fr; border: round $primary-darken-2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "choose", "Use", show=False)]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.rows: list[TemplateRow] = []
        self.templates: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        """The list beside the chosen template's words and graph."""
        with Vertical(classes="panel") as panel:
            panel.border_title = "New from template"
            with Horizontal(id="gallery-body"):
                yield OptionList(id="gallery-list")
                with Vertical(id="gallery-side"):
                    yield Static("loading templates…", id="gallery-detail")
                    yield CanvasView(id="gallery-preview")
            yield Static(safe("enter: fill in its parameters · escape: back"), classes="hint")

    def on_mount(self) -> None:
        """Load the list."""
        self.query_one("#gallery-list", OptionList).focus()
        self.load()

    @work(exclusive=True, group="gallery")
    async def load(self) -> None:
        """Every template the role may read."""
        detail = self.query_one("#gallery-detail", Static)
        try:
            self.rows = await self.session.call(self.session.client.list_templates())
        except DagqError as exc:
            detail.update(safe(f"Cannot list templates: {describe_error(exc)}", width=300))
            return
        options = self.query_one("#gallery-list", OptionList)
        options.clear_options()
        options.add_options(
            Option(safe(r.name or r.id, width=ROW_WIDTH), id=r.id) for r in self.rows
        )
        if not self.rows:
            detail.update(safe("No templates yet: save a workflow as one from the Designer."))
            return
        options.highlighted = 0

    @on(OptionList.OptionHighlighted, "#gallery-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            self.show(event.option.id)

    @on(OptionList.OptionSelected, "#gallery-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_choose()

    @work(exclusive=True, group="preview")
    async def show(self, template_id: str) -> None:
        """The template's description, parameters and graph."""
        detail = self.query_one("#gallery-detail", Static)
        try:
            template = self.templates.get(template_id)
            if template is None:
                record = await self.session.call(self.session.client.get_template(template_id))
                template = self.templates[template_id] = dict(record.template or {})
        except DagqError as exc:
            detail.update(safe(describe_error(exc), width=300))
            return
        params = ", ".join(template.get("parameters") or {}) or "none"
        words = Text.assemble(
            safe(f"{template['name']}  (v{template.get('version', 1)})", style="bold"),
            "\n",
            safe(template.get("description") or "", width=DETAIL_WIDTH),
            "\n",
            safe(f"parameters: {params}", width=DETAIL_WIDTH, style="dim"),
        )
        detail.update(words)
        canvas = self.query_one("#gallery-preview", CanvasView)
        try:
            canvas.set_graph(preview_graph(template), relayout=True)
        except (DagqError, ValidationError):
            canvas.set_graph(([], []), relayout=True)

    def action_choose(self) -> None:
        """Fill in the highlighted template's parameters."""
        options = self.query_one("#gallery-list", OptionList)
        index = options.highlighted
        if index is None or not self.rows:
            return
        template_id = self.rows[index].id
        template = self.templates.get(template_id)
        if template is None:
            return  # still loading: the next Enter finds it

        def made(workflow: dict[str, Any] | None) -> None:
            if workflow is not None:
                self.dismiss(workflow)

        self.app.push_screen(TemplateForm(self.session, template), made)
