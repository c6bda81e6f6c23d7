"""Pilot tests of ``s`` (simulate) on the examples: it runs the real engine over each
node's simulated output or failure, set in the inspector and kept in the spec's
metadata, and says how the run ends in words, a failure as an error."""

from __future__ import annotations

from typing import Any

import yaml
from textual.widgets import Input, Select

from app.screens.designer import DesignerScreen
from app.simulation import CHOICE, FAILS, OUTPUT
from app.widgets.inspector import Inspector
from tests.tui.conftest import Tui, type_text, wait_for
from tests.tui.test_designer import goto, status
from tests.tui.test_designer_edges import open_example, store_example

SIZE = (120, 48)


def toasts(app: Any) -> list[tuple[str, str, str]]:
    """(title, message, severity) of every notification so far."""
    return [(str(n.title), n.message, n.severity) for n in app._notifications]


def statuses(screen: DesignerScreen) -> dict[str, str]:
    """What the canvas paints on each node."""
    return dict(screen.canvas._statuses)


async def node_field(pilot: Any, screen: DesignerScreen, node_id: str, key: str) -> Any:
    """Select ``node_id``; its inspector field ``key``."""
    await goto(pilot, screen, node_id)
    inspector = screen.query_one(Inspector)

    def found() -> Any:
        if inspector.node_id != node_id:
            return None
        return next((w for w, f in inspector._fields.items() if f.key == key), None)

    await wait_for(pilot, lambda: found() is not None, what=f"{node_id}'s {key}")
    return found()


async def simulate(pilot: Any, app: Any) -> tuple[str, str, str]:
    """Press ``s`` (once no text field has the focus: it would take the key); the
    notification it gives."""
    await wait_for(pilot, lambda: not isinstance(app.focused, Input), what="out of the fields")
    # By identity, not by count: an older toast may time out meanwhile.
    before = list(app._notifications)  # held, so no id is reused meanwhile

    def new() -> list[Any]:
        return [n for n in app._notifications if all(n is not b for b in before)]

    await pilot.press("s")
    await wait_for(pilot, lambda: bool(new()), what="the verdict")
    verdict = new()[-1]
    return (str(verdict.title), verdict.message, verdict.severity)


async def test_example_one_simulates_and_a_failing_task_shows_the_failure(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        title, message, severity = await simulate(pilot, app)
        assert (title, severity) == ("Simulation completed ✓", "information")
        assert "skipped: store_backup" in message
        assert statuses(screen)["notify"] == "completed"
        assert statuses(screen)["store_backup"] == "skipped"

        # transform's simulated output (from the example's metadata) decides the branch
        output = await node_field(pilot, screen, "transform", OUTPUT)
        assert isinstance(output, Input) and '"quality": 0.97' in output.value
        output.focus()
        await type_text(pilot, '{"quality": ')  # checked as typed: not JSON, not stored
        await pilot.press("enter")
        assert "0.97" in str(screen.editor.to_data()["metadata"])
        await type_text(pilot, "0.5}")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                screen.editor.to_data()["metadata"]["simulation"]["transform"]["output"]
                == {"quality": 0.5}
            ),
            what="the output stored",
        )
        await pilot.press("escape")
        title, message, _ = await simulate(pilot, app)
        assert title == "Simulation completed ✓" and "skipped: store_primary" in message

        # without an output, the decision cannot decide: said in words, as an error
        output = await node_field(pilot, screen, "transform", OUTPUT)
        output.focus()
        await pilot.press("ctrl+u", "enter", "escape")  # clear the field: no simulated output
        await wait_for(
            pilot,
            lambda: "transform" not in screen.editor.to_data()["metadata"]["simulation"],
            what="the output removed",
        )
        title, message, severity = await simulate(pilot, app)
        assert (title, severity) == ("Simulation: failed ✗", "error")
        assert message.startswith("The run would fail at quality_check: condition")
        assert "cannot compare null with number" in message
        assert "NoneType" not in message and "Traceback" not in message
        assert statuses(screen)["quality_check"] == "failed"
        assert "Simulation: failed ✗" in status(screen)

        # a task marked "fails": its retries, then the failure on the canvas
        fails = await node_field(pilot, screen, "validate", FAILS)
        assert isinstance(fails, Select)
        fails.focus()
        await pilot.press("enter", "down", "down", "enter")  # blank, succeeds, fails
        await wait_for(
            pilot,
            lambda: "validate" in screen.editor.to_data()["metadata"]["simulation"],
            what="validate marked",
        )
        assert "Simulation" not in status(screen)  # an edit clears the old simulation
        title, message, severity = await simulate(pilot, app)
        assert severity == "error"
        assert message.startswith("The run would fail at validate: simulated failure (3 attempts).")
        assert statuses(screen)["validate"] == "failed"
        assert statuses(screen)["transform"] != "completed"

        # it is kept in the spec: the export has it
        text = screen.editor.export("yaml")
        exported = yaml.safe_load(text)["metadata"]["simulation"]["validate"]
        assert exported["fails"] == "simulated failure"


async def test_a_failing_saga_step_shows_the_compensations(tui: Tui) -> None:
    await store_example(tui, "order-processing.yaml")
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        fails = await node_field(pilot, screen, "ship_order", FAILS)
        fails.focus()
        await pilot.press("enter", "down", "down", "enter")
        await wait_for(
            pilot, lambda: "metadata" in screen.editor.to_data(), what="ship_order marked"
        )
        await pilot.press("escape")
        title, message, severity = await simulate(pilot, app)
        assert (title, severity) == ("Simulation: failed, then compensated ✗", "error")
        assert message == (
            "The run would fail at ship_order: simulated failure (3 attempts). "
            "The saga undoes reserve_inventory, charge_payment. Every compensation succeeded."
        )
        painted = statuses(screen)
        assert painted["ship_order"] == "failed"
        assert painted["reserve_inventory"] == painted["charge_payment"] == "compensated"
        assert painted["refund_payment"] == painted["release_inventory"] == "completed"
        await pilot.press("f10")  # saved with the spec, so the next designer sees it
        await wait_for(pilot, lambda: screen.editor.version == 2, what="saved")
    async with tui.client() as client:
        stored = await client.get_workflow("order-processing")
    assert stored.spec()["metadata"]["simulation"] == {"ship_order": {"fails": "simulated failure"}}


async def test_simulate_plays_the_approver_and_the_bank(tui: Tui) -> None:
    """The refund example: approved by default; rejected, or the bank never paying, when the
    approval's and the signal's properties say so (kept in the spec's metadata)."""
    await store_example(tui, "refund-approval.yaml")
    app = tui.app("designer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_example(pilot)
        title, _, _ = await simulate(pilot, app)
        assert title == "Simulation completed ✓"
        assert statuses(screen)["tell_customer"] == "completed"
        assert statuses(screen)["decline"] == "skipped"

        for node_id, downs in (("manager_ok", 2), ("bank_ok", 3)):  # reject; never
            field = await node_field(pilot, screen, node_id, CHOICE)
            assert isinstance(field, Select)
            field.focus()
            await pilot.press("enter", *["down"] * downs, "enter")

            def stored(n: str = node_id) -> bool:
                return n in screen.editor.to_data()["metadata"].get("simulation", {})

            await wait_for(pilot, stored, what=f"{node_id}'s choice stored")
            await pilot.press("escape")
        assert screen.editor.to_data()["metadata"]["simulation"]["manager_ok"] == {
            "choice": "reject"
        }
        title, _, _ = await simulate(pilot, app)
        assert title == "Simulation completed ✓"
        assert statuses(screen)["decline"] == "completed"
        assert statuses(screen)["refund"] == "skipped"
