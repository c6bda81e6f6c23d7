"""The dialogs' pure parts: run parameters from typed text, import/export path checks,
and the run dialog itself over a workflow that declares parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from app.screens.dialogs.path import export_problem, import_problem
from app.screens.dialogs.run_params import ParamProblem, RunParametersDialog, collect
from tests.tui.conftest import type_text, wait_for

PARAMS: dict[str, dict[str, Any]] = {
    "records": {"type": "integer", "required": True},
    "ratio": {"type": "number", "default": 0.5},
    "dry": {"type": "boolean"},
    "mode": {"type": "string", "enum": ["fast", "safe"]},
    "extra": {"type": "object"},
}


def test_collect_converts_each_declared_type() -> None:
    texts = {"records": "10", "ratio": "0.9", "dry": "yes", "mode": "safe", "extra": '{"a": 1}'}
    assert collect(PARAMS, texts) == {
        "records": 10, "ratio": 0.9, "dry": True, "mode": "safe", "extra": {"a": 1}
    }  # fmt: skip
    assert collect(PARAMS, {"records": "1"}) == {"records": 1}  # empty: the default applies


def test_collect_lists_every_problem() -> None:
    with pytest.raises(ParamProblem) as exc:
        collect(PARAMS, {"ratio": "lots", "dry": "maybe", "mode": "slow", "extra": "[1]"})
    assert str(exc.value) == (
        "records: required; ratio: not a valid number; dry: true or false; "
        "mode: one of fast, safe; extra: a JSON object"
    )


def test_path_checks(tmp_path: Path) -> None:
    assert import_problem(str(tmp_path / "nope.yaml")) == f"{tmp_path / 'nope.yaml'}: no such file"
    assert "is a folder" in (import_problem(str(tmp_path)) or "")
    assert export_problem(str(tmp_path / "out.yaml")) is None
    assert export_problem(str(tmp_path / "out.txt")) == (
        "the file name must end in .yaml, .yml or .json"
    )
    assert export_problem(str(tmp_path / "no" / "out.json")) == f"{tmp_path / 'no'}: no such folder"


class DialogHost(App[None]):
    """An app that opens the run dialog and keeps its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: dict[str, Any] | None = None
        self.answered = False

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        def done(values: dict[str, Any] | None) -> None:
            self.answer, self.answered = values, True

        self.push_screen(RunParametersDialog("Pipeline", PARAMS), done)


async def test_run_dialog_refuses_then_answers() -> None:
    app = DialogHost()
    async with app.run_test(size=(80, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunParametersDialog))
        await pilot.press("ctrl+r")
        problem = str(app.screen.query_one("#problem", Static).render())
        assert problem.startswith("records: required")
        await type_text(pilot, "12")
        await pilot.press("enter")  # to 'ratio', then 'dry' (a drop-down), then 'mode'
        await pilot.press("enter")
        await pilot.press("tab", "enter", "down", "down", "enter")  # mode: blank, fast, safe
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.answered, what="the answer")
    assert app.answer == {"records": 12, "mode": "safe"}


class BareHost(App[None]):
    """Opens the run dialog of a workflow without parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: dict[str, Any] | None = None
        self.answered = False

    def on_mount(self) -> None:
        def done(values: dict[str, Any] | None) -> None:
            self.answer, self.answered = values, True

        self.push_screen(RunParametersDialog("Pipeline", {}), done)


@pytest.mark.parametrize(
    ("keys", "answer"),
    [(["ctrl+r"], {}), (["tab", "enter"], None), (["tab", "tab", "enter"], {})],
)
async def test_run_dialog_keys_reach_its_buttons(keys: list[str], answer: Any) -> None:
    # No parameters declared: the JSON editor first; Tab goes on to Cancel, then Run,
    # never to the dialog's scroll panel (where Enter did nothing).
    app = BareHost()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "json", what="editor")
        await pilot.press(*keys)
        await wait_for(pilot, lambda: app.answered, what="the answer")
    assert app.answer == answer
