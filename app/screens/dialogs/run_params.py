"""The run dialog: a form built from the workflow's declared parameters.

Each parameter shows its type, range, pattern and default; an enum or a boolean is a
drop-down; what is typed is checked as it is typed, with the same checks a run's start
makes (:func:`orchestrator.engine.params.parameter_problem`), and the problem is shown
under the field.  Run refuses while a field is wrong, keeping everything typed.  A
workflow that declares no parameters gets a JSON editor for any parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from app.screens.dialogs.base import Dialog
from app.text import clip, safe
from orchestrator.engine.params import parameter_problem
from orchestrator.spec.model import Parameter

NAME_WIDTH = 120
"""Cells of a parameter's name in its label."""


class ParamProblem(ValueError):
    """A typed parameter value that does not fit its declaration."""


def parse_param(name: str, decl: Mapping[str, Any], text: str) -> Any:
    """The typed ``text`` as the declared type, checked against the declaration
    (enum, range, pattern); ParamProblem says why not."""
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
    model = _model(decl)
    problem = parameter_problem(name, model, value) if model is not None else None
    if problem:
        raise ParamProblem(problem.replace(f"parameter {name!r} ", f"{name}: "))
    return value


def _model(decl: Mapping[str, Any]) -> Parameter | None:
    try:
        return Parameter.model_validate(dict(decl))
    except ValidationError:
        return None  # the workflow's validator reports a malformed declaration


def describe(decl: Mapping[str, Any]) -> str:
    """``number from 0 to 1, default 0.97`` (type, range, pattern, default, required)."""
    kind = str(decl.get("type") or "string")
    low, high = decl.get("minimum"), decl.get("maximum")
    if low is not None and high is not None:
        kind += f" from {low:g} to {high:g}"
    elif low is not None:
        kind += f" ≥ {low:g}"
    elif high is not None:
        kind += f" ≤ {high:g}"
    parts = [kind]
    if isinstance(decl.get("enum"), list):
        parts.append(f"one of {', '.join(map(str, decl['enum']))}")
    if decl.get("pattern"):
        parts.append(f"matching {decl['pattern']}")
    if decl.get("default") is not None:
        parts.append(f"default {json.dumps(decl['default'])}")
    if decl.get("required"):
        parts.append("required")
    return ", ".join(parts)


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


def parse_json_params(text: str) -> dict[str, Any]:
    """The JSON editor's text as parameters (empty: none); ParamProblem says why not."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParamProblem(f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise ParamProblem('the parameters must be a JSON object, e.g. {"records": 10}')
    return value


def _choices(decl: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """A drop-down's (label, text) pairs for an enum or a boolean; None: typed."""
    enum = decl.get("enum")
    if isinstance(enum, list) and enum:
        return [(str(v), v if isinstance(v, str) else json.dumps(v)) for v in enum]
    if decl.get("type") == "boolean":
        return [("true", "true"), ("false", "false")]
    return None


class RunParametersDialog(Dialog[dict[str, Any]]):
    """One field per declared parameter, checked as typed; ``Run`` answers."""

    DEFAULT_CSS = """
    RunParametersDialog TextArea { height: 8; }
    RunParametersDialog .field-problem { color: $error; height: auto; }
    RunParametersDialog Input.-invalid { border: tall $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "run", "Run")]

    def __init__(self, workflow: str, parameters: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__()
        self.workflow = workflow
        self.parameters = {k: dict(v) for k, v in parameters.items()}
        self._fields: dict[str, Input | Select[str]] = {}
        self._problems: dict[str, Static] = {}

    def compose(self) -> ComposeResult:
        """A labelled field per parameter (or the JSON editor), then Cancel and Run."""
        with VerticalScroll(classes="panel", can_focus=False) as panel:
            panel.border_title = safe(f"Run {self.workflow}", width=64)
            if not self.parameters:
                yield Static(
                    "This workflow declares no parameters: give any as a JSON object.",
                    classes="hint",
                )
                yield TextArea("{}", id="json", tab_behavior="focus", soft_wrap=True)
            for name, decl in self.parameters.items():
                # The designer's words: plain text; the description whole (it wraps).
                yield Label(safe(f"{clip(name, NAME_WIDTH)}: {describe(decl)}"))
                if decl.get("description"):
                    yield Static(safe(decl["description"], multiline=True), classes="hint")
                yield from self._field(name, decl)
            yield Static("", classes="problem", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Run", id="run", variant="primary")

    def _field(self, name: str, decl: Mapping[str, Any]) -> list[Widget]:
        ident = f"param-{len(self._fields)}"
        choices = _choices(decl)
        default = decl.get("default")
        widget: Input | Select[str]
        if choices is not None:
            shown = json.dumps(default) if not isinstance(default, str) else default
            widget = Select(
                choices,
                value=shown if any(t == shown for _, t in choices) else Select.NULL,
                prompt="(its default)" if default is not None else "(none)",
                id=ident,
            )
        else:
            hint = f"default {json.dumps(default)}" if default is not None else ""
            widget = Input(placeholder=clip(hint, 200), id=ident)
        problem = Static("", classes="field-problem")
        problem.display = False
        self._fields[name], self._problems[name] = widget, problem
        return [widget, problem]

    def on_mount(self) -> None:
        """Start in the first field (or the JSON editor)."""
        first: Widget | None = next(iter(self._fields.values()), None)
        if first is None and not self.parameters:
            first = self.query_one("#json", TextArea)
        (first or self.query_one("#run", Button)).focus()

    def texts(self) -> dict[str, str]:
        """What each field holds now, as text."""
        out = {}
        for name, widget in self._fields.items():
            if isinstance(widget, Input):
                out[name] = widget.value
            else:
                out[name] = "" if widget.value is Select.NULL else str(widget.value)
        return out

    @on(Input.Changed)
    def _check(self, event: Input.Changed) -> None:
        """Say at once what is wrong with what is typed."""
        name = next((n for n, w in self._fields.items() if w is event.input), None)
        if name is None:
            return
        problem = None
        if event.value.strip():
            try:
                parse_param(name, self.parameters[name], event.value)
            except ParamProblem as exc:
                problem = str(exc)
        event.input.set_class(problem is not None, "-invalid")
        self._problems[name].update(safe(problem or "", multiline=True))
        self._problems[name].display = problem is not None

    @on(TextArea.Changed, "#json")
    def _check_json(self, event: TextArea.Changed) -> None:
        try:
            parse_json_params(event.text_area.text)
        except ParamProblem as exc:
            self.query_one("#problem", Static).update(safe(str(exc), multiline=True))
            return
        self.query_one("#problem", Static).update("")

    def action_run(self) -> None:
        """Check every field and answer with the parameters (a problem keeps the dialog
        open with everything typed)."""
        try:
            if not self.parameters:
                params = parse_json_params(self.query_one("#json", TextArea).text)
            else:
                params = collect(self.parameters, self.texts())
        except ParamProblem as exc:
            self.query_one("#problem", Static).update(safe(str(exc), multiline=True))
            return
        self.dismiss(params)

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        event.stop()
        fields = list(self._fields.values())
        if event.input is fields[-1]:
            self.action_run()
        else:
            fields[fields.index(event.input) + 1].focus()

    @on(Button.Pressed, "#run")
    def _run(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
