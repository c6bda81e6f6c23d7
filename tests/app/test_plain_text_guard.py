"""A guard for screens yet to come: no string built at run time goes where Textual reads
markup.

A ``str`` given to a ``Static``, a ``Label``, a ``Button``, an ``Option``, a table row, a
border title or a palette entry is parsed as markup, so ``Static(f"Run {name}")`` is the
bug of issue 10 waiting for a name like ``[/]``.  Such text goes through
``app.text.safe`` (plain ``Text``) or ``textual.markup.escape``.  This reads the source:
it catches f-strings, ``+``/``%`` and ``.format``/``.join`` handed to those places, not a
variable that holds a string (the hostile-text Pilot tests catch what reaches the screen).
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
SINKS = frozenset(
    {
        "Static", "Label", "Button", "Option", "Select", "SystemCommand", "Tab", "TabPane",
        "update", "add_row", "add_option", "add_column", "add_columns", "write",
    }
)  # fmt: skip
"""Calls whose text arguments Textual parses as markup (``write``: a RichLog with markup)."""
SINK_ATTRIBUTES = frozenset({"border_title", "border_subtitle", "tooltip"})
NOT_SHOWN = frozenset({"key", "id", "classes", "name"})
"""Keyword arguments that are identifiers, never drawn."""


def _built(node: ast.expr) -> bool:
    """True for a string assembled at run time."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _built(node.left) or _built(node.right) or isinstance(node.left, ast.Constant)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join")
    return False


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def built_strings_in_markup_places(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` of every built string handed to a place that reads markup."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _name(node) in SINKS:
            values = [*node.args, *(k.value for k in node.keywords if k.arg not in NOT_SHOWN)]
            found += [(node.lineno, f"{_name(node)}(...)") for v in values if _built(v)]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr in SINK_ATTRIBUTES
                    and _built(node.value)
                ):
                    found.append((node.lineno, f".{target.attr} = ..."))
    return found


def test_the_guard_sees_the_usual_mistakes() -> None:
    bad = (
        'Static(f"Run {name}")\n'
        'w.update("by " + user)\n'
        'w.border_title = f"Versions of {wid}"\n'
        't.add_row(", ".join(tags), key=f"{wid}")\n'
        'Option("{} v{}".format(name, n))\n'
    )
    assert sorted(line for line, _ in built_strings_in_markup_places(bad)) == [1, 2, 3, 4, 5]
    good = (
        'Static(safe(f"Run {name}"))\n'
        'w.update("constant text")\n'
        't.add_row(safe(name), key=f"{wid}/{lane}")\n'
        'SystemCommand(escape(f"Go to {title}"), "help", go)\n'
    )
    assert built_strings_in_markup_places(good) == []


def test_no_screen_hands_a_built_string_to_markup() -> None:
    problems = [
        f"{path.relative_to(APP.parent)}:{line}: {what}"
        for path in sorted(APP.rglob("*.py"))
        if "bench" not in path.parts  # a benchmark prints to stdout, not to a screen
        for line, what in built_strings_in_markup_places(path.read_text(encoding="utf-8"))
    ]
    assert problems == [], "wrap these in app.text.safe(...):\n" + "\n".join(problems)
