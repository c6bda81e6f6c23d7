"""Simulating the design in the Designer (``s``): the real engine over each node's
simulated behaviour (:mod:`app.simulation`), the statuses painted on the canvas, and
the outcome in words — a failure is an error, with the node and the reason."""

from __future__ import annotations

from typing import Any

from app.fields import Field
from app.screens.designer_base import DesignerBase
from app.simulation import (
    APPROVAL_CHOICES,
    CHOICE,
    FAILS,
    FAILS_CHOICE,
    OUTPUT,
    SIGNAL_CHOICES,
    SUCCEEDS,
    check_output,
    choices,
    outcomes,
    verdict,
)
from app.text import clip
from orchestrator.errors import DagqError
from orchestrator.spec.model import RUNNABLE_TYPES

WAITING_FIELDS = {
    "approval": (
        Field(CHOICE, "When simulated, it is", placeholder="approve", choices=APPROVAL_CHOICES),
    ),
    "signal": (
        Field(CHOICE, "When simulated, the signal", placeholder="arrive", choices=SIGNAL_CHOICES),
        Field(OUTPUT, "Simulated payload (JSON)", check_output, placeholder='e.g. {"paid": true}'),
    ),
}
"""What simulated people and senders do to approval and signal nodes."""
SIMULATION_FIELDS = (
    Field(OUTPUT, "Simulated output (JSON)", check_output, placeholder='e.g. {"quality": 0.97}'),
    Field(FAILS, "When simulated, it", placeholder=SUCCEEDS, choices=(SUCCEEDS, FAILS_CHOICE)),
)
"""The inspector's fields of a runnable node's simulated behaviour (s)."""


class DesignerSim(DesignerBase):
    """``s``: run the design in memory and show how it ends."""

    def extra_fields(self, node: dict[str, Any]) -> tuple[Field, ...]:
        """A runnable node's simulated output and failure, after its own fields."""
        more = super().extra_fields(node)
        if node.get("type") in WAITING_FIELDS:
            return (*more, *WAITING_FIELDS[str(node["type"])])
        return (*more, *SIMULATION_FIELDS) if node.get("type") in RUNNABLE_TYPES else more

    def action_simulate(self) -> None:
        """Replay the design in memory with the real transitions; paint the statuses."""
        from orchestrator.engine.simulate import simulate
        from orchestrator.spec.graph import compile_graph

        if not self.result.valid:
            self.notify("Fix the problems first (e shows the next).", severity="warning")
            return
        try:
            spec = self.editor.to_spec()
            params = {k: p.default for k, p in spec.parameters.items() if p.default is not None}
            run = simulate(
                compile_graph(spec), params, outcomes(spec.metadata),
                choices=choices(spec.metadata),
            )  # fmt: skip
        except DagqError as exc:
            self.notify(exc.message, title="Simulation not possible", severity="error")
            return
        result = verdict(run)
        self.canvas.set_statuses(result.statuses)
        self.simulation_note = clip(result.title, 48)
        self.refresh_design(select=self.canvas.selected)
        note = "" if result.failed else " Tasks without a simulated output return their input."
        self.notify(
            result.message + note,
            title=result.title,
            severity="error" if result.failed else "information",
            timeout=12 if result.failed else 6,
        )
