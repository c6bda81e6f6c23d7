"""The run dialog: a form built from the workflow's declared parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from app.screens.dialogs.base import Dialog
from app.text import clip, safe

NAME_WIDTH = 120
"""Cells of a parameter's name in its label."""


class ParamProblem(ValueError):
    """A typed parameter value that does not fit its declaration."""


def parse_param(name: str, decl: Mapping[str, Any], text: str) -> Any:
    """The typed ``text`` as the declared type; ParamProblem says why not."""
    kind = str(decl.get("type") or "string")
    text = text.strip()
    try:
        if kind == "integer":
            value: Any = int(text)
        elif kind == "number":
            value = float(text)
        elif kind == "boolean":
            if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise ParamProblem(f"{name}: true or false")
            value = text.lower() in ("true", "yes", "1")
        elif kind in ("object", "array"):
            value = json.loads(text)
            expected = dict if kind == "object" else list
            if not isinstance(value, expected):
                raise ParamProblem(f"{name}: a JSON {kind}")
        else:
            value = text
    except (ValueError, json.JSONDecodeError) as exc:
        if isinstance(exc, ParamProblem):
            raise
        raise ParamProblem(f"{name}: not a valid {kind}") from None
    enum = decl.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        raise ParamProblem(f"{name}: one of {', '.join(map(str, enum))}")
    return value


def collect(
    parameters: Mapping[str, Mapping[str, Any]], texts: Mapping[str, str]
) -> dict[str, Any]:
    """The run's parameters from the typed texts (empty: the default applies).

    Raises ParamProblem listing every problem at once.
    """
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, decl in parameters.items():
        text = texts.get(name, "").strip()
        if not text:
            if decl.get("required") and decl.get("default") is None:
                problems.append(f"{name}: required")
            continue
        try:
            out[name] = parse_param(name, decl, text)
        except ParamProblem as exc:
            problems.append(str(exc))
    if problems:
        raise ParamProblem("; ".join(problems))
    return out


class RunParametersDialog(Dialog[dict[str, Any]]):
    """One field per declared parameter (type, default, required); ``Run`` answers."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "run", "Run")]

    def __init__(self, workflow: str, parameters: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__()
        self.workflow = workflow
        self.parameters = {k: dict(v) for k, v in parameters.items()}
        self._inputs: dict[str, Input] = {}

    def compose(self) -> ComposeResult:
        """A labelled field per parameter, then Cancel and Run."""
        with VerticalScroll(classes="panel", can_focus=False) as panel:
            panel.border_title = safe(f"Run {self.workflow}", width=64)
            if not self.parameters:
                yield Static("This workflow declares no parameters.", classes="hint")
            for name, decl in self.parameters.items():
                kind = decl.get("type") or "string"
                need = " (required)" if decl.get("required") else ""
                # The designer's words: plain text; the description whole (it wraps).
                yield Label(safe(f"{clip(name, NAME_WIDTH)}: {kind}{need}"))
                if decl.get("description"):
                    yield Static(safe(decl["description"], multiline=True), classes="hint")
                default = decl.get("default")
                hint = f"default {json.dumps(default)}" if default is not None else ""
                inp = Input(placeholder=clip(hint, 200), id=f"param-{len(self._inputs)}")
                self._inputs[name] = inp
                yield inp
            yield Static("", classes="problem", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Run", id="run", variant="primary")

    def on_mount(self) -> None:
        """Start in the first field, or on Run when there is none."""
        first = next(iter(self._inputs.values()), None)
        (first or self.query_one("#run", Button)).focus()

    def action_run(self) -> None:
        """Check every field and answer with the parameters."""
        texts = {name: inp.value for name, inp in self._inputs.items()}
        try:
            params = collect(self.parameters, texts)
        except ParamProblem as exc:
            self.query_one("#problem", Static).update(safe(str(exc), multiline=True))
            return
        self.dismiss(params)

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self._inputs.values())
        if event.input is inputs[-1]:
            self.action_run()
        else:
            inputs[inputs.index(event.input) + 1].focus()

    @on(Button.Pressed, "#run")
    def _run(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
