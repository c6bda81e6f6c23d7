"""The Workflows screen (the app's first): list, filter, open, new, import, export,
delete, and versions (open an old one read-only, or compare two on the canvas)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from app.editor import Editor, spec_data_from_api
from app.refusal import refuse
from app.screens.designer import DesignerScreen
from app.screens.dialogs.confirm import ConfirmDialog
from app.screens.dialogs.path import PathDialog
from app.screens.dialogs.text_input import InputDialog
from app.screens.dialogs.versions import VersionChoice, VersionPicker
from app.screens.schedules import when_text
from app.screens.template_gallery import TemplateGallery
from app.session import PERMISSION_ACTIONS, Session, describe_error
from app.text import clip, safe
from app.widgets.ops_format import stamp
from orchestrator.errors import Conflict, DagqError, NotFound
from orchestrator.spec.diff import compare
from orchestrator.spec.export import dump_spec
from orchestrator.spec.loader import build_spec, parse_document, read_document
from orchestrator.wire.runs import WorkflowSummary
from orchestrator.wire.triggers import ScheduleView

PAGE = 100
MAX_ROWS = 2000
COLUMNS = ("Name", "Id", "Ver", "Status", "Nodes", "Edges", "Tags")
NAME_WIDTH = 48
ID_WIDTH = 40
TAGS_WIDTH = 40
"""Cells of the list's text columns: longer values end in ``…`` (the Designer shows
them whole)."""
CAPTION_NAME_WIDTH = 48


def parse_filter(text: str) -> tuple[str | None, str | None, list[str]]:
    """``etl tag:demo status:draft`` -> ``("etl", "draft", ["demo"])`` (name, status, tags)."""
    words, status, tags = [], None, []
    for token in text.split():
        key, sep, value = token.partition(":")
        if sep and key.lower() == "tag" and value:
            tags.append(value)
        elif sep and key.lower() == "status" and value:
            status = value
        else:
            words.append(token)
    return (" ".join(words) or None), status, tags


class WorkflowsScreen(Screen[None]):
    """Every stored workflow; Enter opens the selected one in the Designer."""

    CSS_PATH = "workflows.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=False),
        Binding("n", "new", "New"),
        Binding("t", "from_template", "From template"),
        Binding("i", "import", "Import"),
        Binding("x", "export", "Export"),
        Binding("delete", "delete", "Delete", key_display="Del"),
        Binding("v", "versions", "Versions"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("f1", "app.help", "Help", key_display="F1"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.rows: list[WorkflowSummary] = []
        self.schedules: dict[str, list[ScheduleView]] = {}
        """Schedules by workflow id (loaded with the list when the role may read them)."""

    def compose(self) -> ComposeResult:
        """Filter, table, a line about the list and the role."""
        with Vertical(id="frame"):
            yield Input(placeholder="filter: name  tag:demo  status:draft", id="filter")
            yield DataTable(id="list", cursor_type="row", zebra_stripes=True)
            yield Static("", id="schedules")
            yield Static("", id="summary")
            yield Static("", id="role")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Columns, the role line, and the first load."""
        self.query_one("#frame").border_title = "Workflows"
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.query_one("#role", Static).update(self.role_line())
        table.focus()
        self.reload()

    def role_line(self) -> Text:
        """Who is signed in, and what the role may not do here."""
        missing = [
            PERMISSION_ACTIONS[p]
            for p in ("workflow:create", "workflow:update", "workflow:delete", "workflow:execute")
            if not self.session.can(p)
        ]
        who = f"{self.session.user} ({self.session.role or 'no role'})"
        return safe(f"{who} · cannot {', '.join(missing)}" if missing else who, width=200)

    # -- loading -------------------------------------------------------------------------
    def action_reload(self) -> None:
        """Load the list again."""
        self.reload()

    @work(exclusive=True, group="list")
    async def reload(self) -> None:
        """Fetch every workflow matching the filter (paged)."""
        name, status, tags = parse_filter(self.query_one("#filter", Input).value)
        rows: list[WorkflowSummary] = []
        try:
            while len(rows) < MAX_ROWS:
                page = await self.session.call(
                    self.session.client.list_workflows(
                        name=name, status=status, tags=tags, limit=PAGE, offset=len(rows)
                    )
                )
                rows += page.items
                if not page.has_more or not page.items:
                    break
        except DagqError as exc:
            self.query_one("#summary", Static).update(
                safe(f"Cannot list workflows: {describe_error(exc)}", width=300)
            )
            return
        self.schedules = await self._schedules()
        self.show_rows(rows)

    async def _schedules(self) -> dict[str, list[ScheduleView]]:
        if not self.session.can("schedule:read"):
            return {}
        try:
            rows = await self.session.call(self.session.client.list_schedules())
        except DagqError:
            return {}  # the list works without them
        by_workflow: dict[str, list[ScheduleView]] = {}
        for row in rows:
            by_workflow.setdefault(row.workflow_id, []).append(row)
        return by_workflow

    def show_schedules(self) -> None:
        """The highlighted workflow's schedules, on one line (hidden when it has none)."""
        line = self.query_one("#schedules", Static)
        rows = self.schedules.get(self.selected_id() or "", [])
        line.display = bool(rows)
        if not rows:
            return
        parts = []
        for row in rows:
            state = "paused" if row.paused else f"next {stamp(row.nextFireTime)}"
            parts.append(f"{row.id} ({when_text(row)}, {state})")
        line.update(safe("schedules: " + " · ".join(parts), width=300))

    @on(DataTable.RowHighlighted, "#list")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_schedules()

    def show_rows(self, rows: list[WorkflowSummary]) -> None:
        """Fill the table, keeping the selected workflow selected."""
        table = self.query_one(DataTable)
        keep = self.selected_id()
        self.rows = rows
        table.clear()
        for row in rows:
            table.add_row(
                safe(row.name, width=NAME_WIDTH),
                safe(row.id, width=ID_WIDTH),
                safe(row.version, width=8),
                safe(row.status, width=12),
                safe(row.nodeCount, width=8),
                safe(row.edgeCount, width=8),
                safe(", ".join(row.tags), width=TAGS_WIDTH),
                key=row.id,
            )
        ids = [r.id for r in rows]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        self.show_schedules()
        count = f"{len(rows)} workflow{'s' if len(rows) != 1 else ''}"
        self.query_one("#summary", Static).update(
            safe(
                f"{count} · enter open · n new · t from template · i import · x export · "
                "v versions · / filter"
            )
        )

    def selected_id(self) -> str | None:
        """The id of the highlighted workflow."""
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row].id

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.reload()
        self.query_one(DataTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.reload()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_filter(self) -> None:
        """Focus the filter."""
        self.query_one("#filter", Input).focus()

    # -- opening -----------------------------------------------------------------------
    def _allowed(self, perm: str, action: str) -> bool:
        if self.session.can(perm):
            return True
        refuse(self, self.session, perm, action, self.selected_id() or "*")
        return False

    def _need_selection(self) -> str | None:
        wid = self.selected_id()
        if wid is None:
            self.notify("Select a workflow first.")
        return wid

    def action_open(self) -> None:
        """Open the selected workflow in the Designer."""
        wid = self._need_selection()
        if wid is not None:
            self.open_workflow(wid)

    @work(group="open")
    async def open_workflow(self, workflow_id: str, version: int | None = None) -> None:
        """Load a workflow (or one version of it, read-only) into the Designer."""
        client = self.session.client
        try:
            if version is None:
                wf = await self.session.call(client.get_workflow(workflow_id))
                # A record keeps its spec as the JSON it came as (the Editor edits that).
                editor = Editor(
                    spec_data_from_api(wf.spec()), workflow_id=workflow_id, version=wf.version
                )
                caption = None
            else:
                ver = await self.session.call(client.get_version(workflow_id, version))
                editor = Editor(ver.spec, workflow_id=workflow_id, version=version, read_only=True)
                caption = f"{clip(editor.name, CAPTION_NAME_WIDTH)} — version {version} (read-only)"
        except DagqError as exc:
            self.notify(describe_error(exc), title="Cannot open", severity="error")
            return
        self.open_designer(DesignerScreen(self.session, editor, caption=caption))

    def open_designer(self, screen: DesignerScreen) -> None:
        """Push the Designer; reload the list when it closes."""

        def closed(_: None) -> None:
            self.reload()

        self.app.push_screen(screen, closed)

    def action_new(self) -> None:
        """Start a new workflow from an empty canvas."""
        if not self._allowed("workflow:create", "create a workflow"):
            return

        def named(name: str | None) -> None:
            if name:
                self.open_designer(DesignerScreen(self.session, Editor({"name": name})))

        self.app.push_screen(InputDialog("New workflow", placeholder="its name"), named)

    def action_from_template(self) -> None:
        """Pick a template, fill in its parameters, design the workflow it makes."""
        if not (
            self._allowed("workflow:create", "create a workflow from a template")
            and self._allowed("template:read", "create a workflow from a template")
        ):
            return

        def made(workflow: dict[str, Any] | None) -> None:
            if workflow is not None:
                editor = Editor(workflow)
                editor.set_baseline(None)  # nothing stored yet: modified until saved
                self.open_designer(DesignerScreen(self.session, editor))

        self.app.push_screen(TemplateGallery(self.session), made)

    # -- import / export ---------------------------------------------------------------
    def action_import(self) -> None:
        """Read a YAML/JSON file into the Designer (save it from there)."""
        if not self._allowed("workflow:create", "import a workflow"):
            return

        def chosen(path: str | None) -> None:
            if path:
                self.import_file(Path(path).expanduser())

        self.app.push_screen(PathDialog("Import a workflow file", for_import=True), chosen)

    @work(group="import")
    async def import_file(self, path: Path) -> None:
        """Parse the file; open it in the Designer (as a new version when its id exists)."""
        try:
            text = await asyncio.to_thread(read_document, path)
            raw = parse_document(text, str(path))
            if not isinstance(raw, dict) or not isinstance(raw.get("nodes", []), list):
                _, issues = build_spec(raw)
                raise DagqError("; ".join(i.message for i in issues[:3]) or "not a workflow")
            editor = Editor(raw)
        except DagqError as exc:
            self.notify(describe_error(exc), title=f"Cannot import {path.name}", severity="error")
            return
        wid = editor.to_data()["id"]
        editor.set_baseline(None)  # nothing stored yet: modified until saved
        try:
            current = await self.session.call(self.session.client.get_workflow(wid))
            editor.workflow_id, editor.version = wid, current.version
            editor.set_baseline(spec_data_from_api(current.spec()))  # modified where it differs
            note = f"{wid} exists: saving stores a new version"
        except NotFound:
            note = "new workflow: save it with F10"
        except DagqError as exc:
            note = describe_error(exc)
        problems = len(editor.validate(self.session.settings).errors)
        extra = f"; {problems} problems (see Problems)" if problems else ""
        self.notify(f"{note}{extra}", title=f"Imported {path.name}")
        self.open_designer(DesignerScreen(self.session, editor))

    def action_export(self) -> None:
        """Write the selected workflow to a YAML or JSON file."""
        wid = self._need_selection()
        if wid is None:
            return

        def chosen(path: str | None) -> None:
            if path and wid:
                self.export_workflow(wid, Path(path).expanduser())

        self.app.push_screen(PathDialog("Export to", value=f"{wid}.yaml", for_import=False), chosen)

    @work(group="export")
    async def export_workflow(self, workflow_id: str, path: Path) -> None:
        """Fetch the workflow and write its export."""
        try:
            wf = await self.session.call(self.session.client.get_workflow(workflow_id))
            spec = Editor(spec_data_from_api(wf.spec())).to_spec()
            text = dump_spec(spec, "json" if path.suffix.lower() == ".json" else "yaml")
            await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        except (DagqError, OSError) as exc:
            self.notify(describe_error(exc), title="Export failed", severity="error")
            return
        self.notify(f"Exported {workflow_id} to {path}", title="Export")

    # -- delete / versions -------------------------------------------------------------
    def action_delete(self) -> None:
        """Delete the selected workflow (after confirming)."""
        wid = self._need_selection()
        if wid is None or not self._allowed("workflow:delete", "delete the workflow"):
            return

        def answered(yes: bool | None) -> None:
            if yes and wid:
                self.delete_workflow(wid)

        question = f"Delete the workflow '{wid}' and all its versions?"
        dialog = ConfirmDialog(question, confirm="Delete", cancel="Keep it", danger=True)
        self.app.push_screen(dialog, answered)

    @work(group="delete")
    async def delete_workflow(self, workflow_id: str, force: bool = False) -> None:
        """Delete through the API.  A workflow that still has active runs, schedules or
        webhooks is refused (Conflict, listing them): asked again, ``force`` deletes it
        with them, as ``dagq workflows rm --force`` does."""
        try:
            await self.session.call(self.session.client.delete_workflow(workflow_id, force=force))
        except Conflict as exc:
            listed = dependants_text(exc.details)
            if force or not listed:
                self.notify(describe_error(exc), title="Not deleted", severity="error")
                return
            question = (
                f"The workflow '{workflow_id}' still has\n{listed}\n\nDelete it anyway, "
                "cancelling its runs and removing its schedules and webhooks?"
            )

            def answered(yes: bool | None) -> None:
                if yes:
                    self.delete_workflow(workflow_id, force=True)

            dialog = ConfirmDialog(question, confirm="Delete all", cancel="Keep it", danger=True)
            self.app.push_screen(dialog, answered)
            return
        except DagqError as exc:
            self.notify(describe_error(exc), title="Not deleted", severity="error")
            return
        self.notify(f"Deleted {workflow_id}", title="Delete")
        self.reload()

    def action_versions(self) -> None:
        """Pick a version to open read-only, or two to compare."""
        wid = self._need_selection()
        if wid is not None:
            self.pick_version(wid)

    @work(group="versions")
    async def pick_version(self, workflow_id: str) -> None:
        """List the versions and act on the choice."""
        try:
            versions = await self.session.call(
                self.session.client.list_versions(workflow_id, limit=100)
            )
        except DagqError as exc:
            self.notify(describe_error(exc), severity="error")
            return
        choice = await self.app.push_screen_wait(VersionPicker(workflow_id, versions))
        if choice is None:
            return
        if choice.action == "open":
            self.open_workflow(workflow_id, choice.version)
        else:
            await self.compare_versions(workflow_id, choice)

    async def compare_versions(self, workflow_id: str, choice: VersionChoice) -> None:
        """Draw the newer version with the older one's removed nodes, changes highlighted."""
        client = self.session.client
        try:
            old = await self.session.call(client.get_version(workflow_id, int(choice.base or 0)))
            new = await self.session.call(client.get_version(workflow_id, choice.version))
        except DagqError as exc:
            self.notify(describe_error(exc), severity="error")
            return
        union, diff = compare(old.spec, new.spec)
        editor = Editor(union, workflow_id=workflow_id, version=choice.version, read_only=True)
        counts = {
            k: sum(1 for v in diff.values() if v == k) for k in ("added", "removed", "changed")
        }
        caption = (
            f"{clip(editor.name, CAPTION_NAME_WIDTH)}: v{choice.base} → v{choice.version}  "
            f"+{counts['added']} added  -{counts['removed']} removed  ~{counts['changed']} changed"
        )
        self.open_designer(DesignerScreen(self.session, editor, diff=diff, caption=caption))

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Every action of the list, for the command palette."""
        for title, help_text, action in (
            ("Open workflow", "Open the selected workflow in the Designer", self.action_open),
            ("New workflow", "Design a workflow from an empty canvas", self.action_new),
            ("New from template", "Fill in a template's parameters (t)", self.action_from_template),
            ("Import workflow", "Read a YAML or JSON file", self.action_import),
            ("Export workflow", "Write the selected workflow to a file", self.action_export),
            ("Delete workflow", "Delete the selected workflow", self.action_delete),
            ("Versions", "Open an old version or compare two", self.action_versions),
            ("Filter workflows", "By name, tag:x, status:x", self.action_filter),
            ("Reload list", "Fetch the list again", self.action_reload),
        ):
            yield SystemCommand(title, help_text, action)


def dependants_text(details: dict[str, Any]) -> str:
    """A refused delete's dependants, one kind a line (empty when it names none)."""
    lines = []
    for key, label in (
        ("activeRuns", "active runs"),
        ("schedules", "schedules"),
        ("hooks", "webhooks"),
    ):
        ids = details.get(key)
        if isinstance(ids, list) and ids:
            shown = ", ".join(str(i) for i in ids[:5]) + (" …" if len(ids) > 5 else "")
            lines.append(f"  {label} ({len(ids)}): {shown}")
    return "\n".join(lines)
