""" "Promote to workflow" in the Monitor: the workflow behind a plain job or chain opens in
the Designer as a new workflow (unsaved until F10) to save and extend; it keeps taking
the same payload (``config.params_as_input``)."""

from __future__ import annotations

import re
from typing import Any

from textual.screen import Screen

from app.editor import Editor
from app.refusal import refuse
from app.screens.designer import DesignerScreen
from app.screens.dialogs.text_input import InputDialog
from app.session import Session, describe_error
from orchestrator.errors import DagqError
from orchestrator.spec.model import ID_PATTERN


def _check_id(text: str) -> str | None:
    if not re.match(ID_PATTERN, text) or len(text) > 128:
        return "1-128 letters, digits, '_' and '-'"
    return None


def offer_promote(screen: Screen[Any], session: Session, run_id: str | None) -> None:
    """Ask for the new workflow's id, then open the job's workflow in the Designer."""
    if run_id is None:
        screen.notify("Open a job first.")
        return
    if not session.can("workflow:create"):
        refuse(screen, session, "workflow:create", "promote a job to a workflow", run_id)
        return

    def named(workflow_id: str | None) -> None:
        if workflow_id:
            screen.run_worker(_open(screen, session, run_id, workflow_id), group="promote")

    dialog = InputDialog(
        "Promote to workflow", placeholder="the new workflow's id", check=_check_id
    )
    screen.app.push_screen(dialog, named)


async def _open(screen: Screen[Any], session: Session, run_id: str, workflow_id: str) -> None:
    try:
        workflow = await session.call(session.client.promote_job(run_id, workflow_id))
    except DagqError as exc:
        screen.notify(describe_error(exc), title="Cannot promote", severity="error")
        return
    editor = Editor(workflow)
    editor.set_baseline(None)  # nothing stored yet: modified until saved
    screen.app.push_screen(DesignerScreen(session, editor))
