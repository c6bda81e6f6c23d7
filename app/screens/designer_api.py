"""The Designer's calls to the API: save (F10), run (F5), the live workers' handler names."""

from __future__ import annotations

from typing import Any

from textual import work

from app.messages import OpenRun
from app.refusal import refuse
from app.screens.designer_base import DesignerBase
from app.screens.dialogs.run_params import RunParametersDialog
from app.session import describe_error
from app.widgets.inspector import Inspector
from app.widgets.validation_panel import ValidationPanel
from orchestrator.errors import DagqError


class DesignerApi(DesignerBase):
    """Saving, running, and the handler names live workers offer."""

    def after_mount(self) -> None:
        """Ask for the handler names live workers offer."""
        super().after_mount()
        self.load_handlers()

    def action_save(self) -> None:
        """Create the workflow, or store the design as its next version (F10)."""
        perm = "workflow:update" if self.editor.workflow_id else "workflow:create"
        if not self.session.can(perm):
            target = self.editor.workflow_id or self.editor.to_data().get("id") or "*"
            refuse(self, self.session, perm, "save the workflow", str(target))
            return
        if self._refuse_edit():
            return
        # The field being typed in counts: F10 does not wait for it to be left.
        edit = self.query_one(Inspector).take_focused_edit()
        if isinstance(edit, str):
            self.notify(f"Fix it first: {edit}", title="Not saved", severity="error")
            return
        if edit is not None:
            self.apply_property(edit)
        self.save()

    @work(exclusive=True, group="save")
    async def save(self) -> None:
        """Send the design to the API (422: the server's errors are shown)."""
        client, wid = self.session.client, self.editor.workflow_id
        if wid is not None and not self.editor.dirty:
            self.notify("No changes: nothing saved.", title="Save")
            return
        sent = self.editor.to_data()
        data = self.editor.to_data(self.canvas.positions())
        data.pop("version", None)
        try:
            if wid is None:
                saved = await self.session.call(client.create_workflow(data))
            else:
                saved = await self.session.call(
                    client.update_workflow(wid, data, expected_version=self.editor.version)
                )
        except DagqError as exc:
            self.notify(describe_error(exc), title="Not saved", severity="error")
            return
        self.editor.mark_saved(workflow_id=str(saved.id), version=int(saved.version), saved=sent)
        self.refresh_design(select=self.canvas.selected)
        self.notify(f"Saved {saved.id} v{saved.version}", title="Saved")

    def action_run(self) -> None:
        """Ask for the run parameters and start a run (F5)."""
        if not self.session.can("workflow:execute"):
            target = self.editor.workflow_id or "*"
            refuse(self, self.session, "workflow:execute", "start a run", target)
            return
        wid = self.editor.workflow_id
        if wid is None or (self.editor.dirty and not self.editor.read_only):
            self.notify("Save the workflow (F10) before running it.", severity="warning")
            return
        params = self.editor.to_data().get("parameters") or {}

        def chosen(values: dict[str, Any] | None) -> None:
            if values is not None:
                self.start_run(wid, values)

        self.app.push_screen(RunParametersDialog(self.editor.name, params), chosen)

    @work(exclusive=True, group="run")
    async def start_run(self, workflow_id: str, params: dict[str, Any]) -> None:
        """Start the run and hand it to the monitor."""
        version = self.editor.version if self.editor.read_only else None
        try:
            run = await self.session.call(
                self.session.client.start_run(workflow_id, params, version=version)
            )
        except DagqError as exc:
            self.notify(describe_error(exc), title="Run not started", severity="error")
            return
        run_id = str(run.runId)
        self.notify(f"Run {run_id} started", title="Run")
        self.post_message(OpenRun(run_id, workflow_id))

    @work(exclusive=True, group="handlers")
    async def load_handlers(self) -> None:
        """Offer the handler names live workers advertise (quietly: it is only a hint)."""
        try:
            rows = await self.session.call(self.session.client.handlers())
        except DagqError:
            return
        if not self.is_attached:
            return  # the designer closed while the API answered
        names = [str(r.name) for r in rows if r.name]
        self.query_one(Inspector).set_handlers(names)
        self.query_one(ValidationPanel).set_offered(names)
