"""The monitor's actions on the run it shows: cancel (``x``), retry the run (``R``) and
retry from the selected node (``F``), each asked once with buttons that say what they do.

A base of :class:`~app.screens.monitor.MonitorScreen` (as :mod:`.insight_keys` is),
kept apart so the monitor stays about showing a run.  What the role or the run's
status does not allow is disabled with the reason (the buttons' tooltips, and a
notification when the key is pressed); a 403 is a message, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.widgets import Button

from app.screens.insight_keys import RunInsightScreen
from app.screens.monitor_rules import action_reason, confirmation
from app.screens.ops_base import confirm_then
from app.text import safe
from orchestrator.spec.model import Node
from orchestrator.wire.runs import WorkflowRun

ACTIONS = ("cancel", "retry", "retry-node")
"""The actions' names: also the ids of their buttons."""


class RunActionsScreen(RunInsightScreen):
    """Cancel and retry the run the screen shows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "cancel_run", "Cancel run"),
        Binding("R", "retry_run", "Retry run"),
        Binding("F", "retry_from_node", "Retry from node"),
    ]

    @property
    def run(self) -> WorkflowRun | None:
        """The run on screen (the API's run view, kept current), if any."""
        raise NotImplementedError

    @property
    def selected_node(self) -> str | None:
        """The node selected on the canvas."""
        raise NotImplementedError

    def after_action(self, run_id: str) -> None:
        """An action on ``run_id`` was accepted: keep following it."""
        raise NotImplementedError

    def action_buttons(self) -> Iterable[Button]:
        """The buttons of the actions, in the order they are shown."""
        yield Button("Cancel run", id="cancel", compact=True, variant="error")
        yield Button("Retry run", id="retry", compact=True, variant="warning")
        yield Button("Retry from node", id="retry-node", compact=True)

    def spec_node(self, node_id: str | None) -> Node | None:
        """The selected run's workflow node ``node_id`` (None when unknown)."""
        if self.spec is None or node_id is None:
            return None
        try:
            return self.spec.node(node_id)
        except KeyError:
            return None

    def action_reason(self, action: str) -> str:
        """Why ``action`` cannot run now (empty when it can)."""
        node_id = self.selected_node if action == "retry-node" else None
        spec_node = self.spec_node(node_id)
        return action_reason(
            action,
            self.run,
            self.blocked,
            node_id=node_id,
            node_type=spec_node.type if spec_node else None,
        )

    def update_actions(self) -> None:
        """Enable what may be done now; say why the rest may not."""
        for button in self.query("#run-actions Button").results(Button):
            reason = self.action_reason(str(button.id))
            button.disabled = bool(reason)
            button.tooltip = safe(reason) if reason else None

    @on(Button.Pressed, "#run-actions Button")
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        {
            "cancel": self.action_cancel_run,
            "retry": self.action_retry_run,
            "retry-node": self.action_retry_from_node,
        }[str(event.button.id)]()

    def _confirm(self, action: str, then: Callable[[str, str | None], object]) -> None:
        """Ask before ``action`` (see :func:`confirmation`); ``then(run_id, node_id)`` on yes."""
        perm = "run:cancel" if action == "cancel" else "workflow:execute"
        if not self.session.can(perm):
            what = {"cancel": "cancel a run", "retry": "retry a run"}.get(action, "rerun a node")
            self.refuse_permission(perm, what, self.run_id or "*")
            return
        if reason := self.action_reason(action):
            self.refuse(reason)
            return
        run_id, node_id = self.run_id, self.selected_node
        assert run_id is not None
        question, yes, no = confirmation(action, run_id, node_id)
        confirm_then(self, question, lambda: then(run_id, node_id), yes=yes, no=no)

    def action_cancel_run(self) -> None:
        """Cancel the selected run (after a confirmation)."""
        self._confirm("cancel", lambda run_id, _node: self.cancel_run(run_id))

    @work(group="action")
    async def cancel_run(self, run_id: str) -> None:
        """``DELETE /runs/{id}``."""
        await self.api(self.session.client.cancel_run(run_id))
        self.after_action(run_id)

    def action_retry_run(self) -> None:
        """Run the failed or cancelled run again from its failure (after a confirmation)."""
        self._confirm("retry", lambda run_id, _node: self.retry_run(run_id, None))

    def action_retry_from_node(self) -> None:
        """Run the failed or cancelled run again from the selected node (after a confirmation)."""
        self._confirm("retry-node", self.retry_run)

    @work(group="action")
    async def retry_run(self, run_id: str, from_node: str | None) -> None:
        """``POST /runs/{id}/retry`` (from ``from_node``), then follow the new attempt."""
        view = await self.api(self.session.client.retry_run(run_id, from_node=from_node))
        if view is None:
            return
        where = f" from {from_node}" if from_node else ""
        self.notify(f"Run {run_id} retried{where}.", title="Retry")
        self.after_action(run_id)

    def action_commands(self) -> Iterable[SystemCommand]:
        """The actions for the command palette (disabled ones say why)."""
        yield self.command(
            "Cancel run", "Cancel the selected run (x)", self.action_cancel_run,
            self.action_reason("cancel"),
        )  # fmt: skip
        yield self.command(
            "Retry run", "Run the selected run again from its failure (R)",
            self.action_retry_run, self.action_reason("retry"),
        )  # fmt: skip
        yield self.command(
            "Retry from node", "Run the selected run again from the selected node (F)",
            self.action_retry_from_node, self.action_reason("retry-node"),
        )  # fmt: skip
