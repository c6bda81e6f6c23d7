"""Pilot tests of running from the Designer with parameters: the run dialog shows each
declared parameter's type, range and enum, refuses a wrong value under its field
(keeping everything typed), and starts the run with what was given; a workflow that
declares none gets a JSON editor."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Label, Select, Static, TextArea

from app.screens.dialogs.run_params import RunParametersDialog
from tests.tui.conftest import Tui, type_text, wait_for
from tests.tui.test_designer_edges import open_example, store_example

SIZE = (120, 48)


async def run_dialog(pilot: Any) -> RunParametersDialog:
    """F5 in the Designer: the run dialog."""
    await pilot.press("f5")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunParametersDialog), what="dialog")
    dialog = pilot.app.screen
    assert isinstance(dialog, RunParametersDialog)
    return dialog


def shown_problems(dialog: RunParametersDialog) -> list[str]:
    """The problems shown under the fields now."""
    return [str(p.render()) for p in dialog.query(".field-problem") if p.display]


async def started_params(tui: Tui, workflow_id: str) -> dict[str, Any]:
    """The parameters of the workflow's only run, as the API stores them."""
    async with tui.client() as client:
        runs = (await client.list_runs(workflow_id)).items
        assert len(runs) == 1
        run = await client.get_run(str(runs[0].runId))
    return dict(run.parameters)


async def test_example_one_runs_with_parameters_checked_in_the_dialog(tui: Tui) -> None:
    await store_example(tui)
    app = tui.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await open_example(pilot)
        dialog = await run_dialog(pilot)
        labels = [str(label.render()) for label in dialog.query(Label)]
        assert labels == [
            "quality: number from 0 to 1, default 0.97",
            "records: integer from 0 to 1e+06, default 100",
            "delay_s: number from 0 to 60, default 0",
        ]
        quality, records, _ = dialog.query(Input).results(Input)
        assert quality.has_focus
        await type_text(pilot, "1.5")
        assert shown_problems(dialog) == ["quality: must be <= 1, got 1.5"]
        records.focus()
        await type_text(pilot, "many")
        assert shown_problems(dialog)[-1] == "records: not a valid integer"
        await pilot.press("ctrl+r")  # refused: the dialog stays, nothing typed is lost
        assert pilot.app.screen is dialog
        assert "quality: must be <= 1" in str(dialog.query_one("#problem", Static).render())
        assert (quality.value, records.value) == ("1.5", "many")

        quality.focus()
        await pilot.press("end", "backspace", "backspace", "backspace")
        await type_text(pilot, "0.5")
        records.focus()
        await pilot.press("ctrl+u")
        await type_text(pilot, "250")
        assert shown_problems(dialog) == []
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.current_mode == "monitor", what="monitor mode")
    params = await started_params(tui, "data-processing-pipeline")
    assert params == {"quality": 0.5, "records": 250, "delay_s": 0}


async def test_an_enum_is_a_choice(tui: Tui) -> None:
    await store_example(tui, "order-processing.yaml")
    app = tui.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await open_example(pilot)
        dialog = await run_dialog(pilot)
        first = str(dialog.query(Label).first().render())
        assert first == (
            "fail_at: string, one of none, reserve_inventory, charge_payment, ship_order, "
            'default "none"'
        )
        fail_at = dialog.query(Select).first()
        assert fail_at.has_focus and fail_at.value == "none"
        await pilot.press("enter", "end", "enter")  # the last choice: ship_order
        await wait_for(pilot, lambda: fail_at.value == "ship_order", what="chosen")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.current_mode == "monitor", what="monitor mode")
    params = await started_params(tui, "order-processing")
    assert params["fail_at"] == "ship_order"


async def test_a_workflow_without_parameters_gets_a_json_editor(tui: Tui) -> None:
    async with tui.client() as client:
        await client.create_workflow(
            {
                "id": "bare",
                "name": "Bare",
                "nodes": [{"id": "one", "type": "task", "handler": "fetchData"}],
            }
        )
    app = tui.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await open_example(pilot)
        dialog = await run_dialog(pilot)
        editor = dialog.query_one("#json", TextArea)
        assert editor.has_focus and editor.text == "{}"
        await pilot.press("f7", "backspace")  # select all, delete
        await type_text(pilot, '{"records": ')
        await pilot.press("ctrl+r")  # not JSON yet: refused, said in the dialog
        assert pilot.app.screen is dialog
        assert str(dialog.query_one("#problem", Static).render()).startswith("not JSON")
        await type_text(pilot, "7}")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.current_mode == "monitor", what="monitor mode")
    assert await started_params(tui, "bare") == {"records": 7}
