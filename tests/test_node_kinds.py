"""Every node kind is in every per-kind table: a new kind cannot be half added.

The node types come from the spec's pydantic classes (``NODE_TYPES``). Each entry of
``TABLES`` is one place that must know every kind; add a line when a new per-kind
table appears (the app's tables are due to become one table per kind).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection
from pathlib import Path

import pytest

from app.canvas.glyphs import BORDERS
from app.kinds import KINDS as APP_KINDS
from orchestrator.engine.kinds import KINDS
from orchestrator.spec.export import _NODE_ORDER
from orchestrator.spec.model import NODE_CLASS, NODE_TYPES, RUNNABLE_TYPES

ROOT = Path(__file__).resolve().parent.parent


def _documented_kinds() -> set[str]:
    """Node types listed in the "Node kinds" table of docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Node kinds", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))


TABLES: dict[str, Callable[[], Collection[str]]] = {
    "orchestrator/engine/kinds: KINDS": lambda: KINDS,
    "app/kinds.py: KINDS": lambda: APP_KINDS,
    "docs/architecture.md: Node kinds": _documented_kinds,
}


def missing_kinds(table: Collection[str]) -> list[str]:
    """The node types ``table`` lacks, in NODE_TYPES order."""
    return [kind for kind in NODE_TYPES if kind not in table]


@pytest.mark.parametrize("where", TABLES)
def test_every_kind_is_in_every_table(where: str) -> None:
    table = TABLES[where]()
    assert not missing_kinds(table), f"{where} lacks {missing_kinds(table)}"
    assert not set(table) - set(NODE_TYPES), f"{where} has unknown kinds"


def test_the_check_names_what_is_missing() -> None:
    assert missing_kinds({"task": 1, "delay": 2}) == [
        k for k in NODE_TYPES if k not in ("task", "delay")
    ]


@pytest.mark.parametrize("kind", NODE_TYPES)
def test_each_kind_has_its_engine_module(kind: str) -> None:
    module = inspect.getmodule(type(KINDS[kind]))
    assert module is not None
    assert module.__name__ == f"orchestrator.engine.kinds.{kind}"
    assert KINDS[kind].runnable == (kind in RUNNABLE_TYPES)


@pytest.mark.parametrize("kind", NODE_TYPES)
def test_export_orders_every_field_of_every_kind(kind: str) -> None:
    fields = set(NODE_CLASS[kind].model_fields)
    assert fields <= set(_NODE_ORDER), f"export order lacks {sorted(fields - set(_NODE_ORDER))}"


@pytest.mark.parametrize("kind", NODE_TYPES)
def test_the_inspector_edits_fields_the_kind_has(kind: str) -> None:
    fields = set(NODE_CLASS[kind].model_fields)
    assert {f.key for f in APP_KINDS[kind].fields} <= fields


@pytest.mark.parametrize("kind", NODE_TYPES)
def test_the_app_view_of_each_kind_is_well_formed(kind: str) -> None:
    view = APP_KINDS[kind]
    assert view.border in BORDERS
    assert re.fullmatch(r"#[0-9a-f]{6}", view.colour)
    assert set(view.defaults) <= set(NODE_CLASS[kind].model_fields)


def test_palette_letters_and_glyphs_tell_kinds_apart() -> None:
    letters = [view.letter for view in APP_KINDS.values()]
    glyphs = [view.glyph for view in APP_KINDS.values()]
    assert len(set(letters)) == len(letters) and all(len(k) == 1 for k in letters)
    assert len(set(glyphs)) == len(glyphs)
