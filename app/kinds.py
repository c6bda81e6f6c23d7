"""Everything the app knows about each node kind, in one table keyed by the node types.

One :class:`KindView` per kind: how the canvas draws it (glyph, colour, border), how the
designer's palette offers it (letter, label), what a new node starts with, and which
fields the inspector edits.  A new node kind adds one entry here;
``tests/test_node_kinds.py`` fails while it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from app.fields import (
    CHILD_RUN,
    HANDLER,
    ID,
    LIMITS,
    NAME,
    RETRIES,
    RUNNABLE,
    Field,
    check_cron,
    check_duration,
    check_expression_text,
    check_template_text,
    check_timeout,
    integer,
    pattern,
)
from app.fields import (
    CONDITION_SYNTAX as SYNTAX,
)
from orchestrator.spec.model import HANDLER_PATTERN


@dataclass(frozen=True, slots=True)
class KindView:
    """How the app shows and edits one node kind."""

    glyph: str
    """One cell, drawn before the node's label on the canvas."""
    colour: str
    """The glyph's colour (``#rrggbb``)."""
    border: str
    """A key of :data:`app.canvas.glyphs.BORDERS`."""
    letter: str
    """The palette key that adds a node of this kind."""
    label: str
    """The kind's name in the palette."""
    fields: tuple[Field, ...]
    """What the inspector edits, in order."""
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """What a new node starts with; the validator asks for the rest."""


KINDS: Mapping[str, KindView] = MappingProxyType(
    {
        "task": KindView(
            glyph="▣",
            colour="#7aa2f7",
            border="round",
            letter="t",
            label="Task",
            fields=(
                ID,
                NAME,
                *RUNNABLE,
                Field("compensation", "Compensation", placeholder="node id"),
            ),
        ),
        "decision": KindView(
            glyph="◇",
            colour="#e0af68",
            border="rect",
            letter="d",
            label="Decision",
            fields=(
                ID,
                NAME,
                Field("condition", "Condition", check_expression_text, placeholder=SYNTAX),
            ),
        ),
        "exclusive": KindView(
            glyph="⊗",
            colour="#ff9e64",
            border="rect",
            letter="x",
            label="Exclusive",
            fields=(ID, NAME),
        ),
        "inclusive": KindView(
            glyph="⊕",
            colour="#ff9e64",
            border="rect",
            letter="o",
            label="Inclusive (or)",
            fields=(ID, NAME),
        ),
        "parallel": KindView(
            glyph="‖",
            colour="#bb9af7",
            border="rect",
            letter="p",
            label="Parallel",
            fields=(
                ID,
                NAME,
                Field("join", "Join", placeholder="all", choices=("all", "any", "n_of_m")),
                Field("join_count", "Join count", integer(1, 10_000), "int"),
                Field("cancel_remaining", "Cancel rest", kind="bool", placeholder="no"),
            ),
            defaults=MappingProxyType({"join": "all"}),
        ),
        "delay": KindView(
            glyph="◷",
            colour="#7dcfff",
            border="rect",
            letter="w",
            label="Delay (wait)",
            fields=(
                ID,
                NAME,
                Field("duration", "Duration", check_duration, placeholder="e.g. 5m"),
                Field("cron", "Cron", check_cron, placeholder="m h dom mon dow"),
            ),
            defaults=MappingProxyType({"duration": "1m"}),
        ),
        "map": KindView(
            glyph="∀",
            colour="#2ac3de",
            border="round",
            letter="m",
            label="Map (for each item)",
            fields=(
                ID,
                NAME,
                Field("items", "Items", check_expression_text, placeholder="output.records"),
                HANDLER,  # or, instead, a sub-workflow per item:
                *CHILD_RUN,
                *LIMITS,
                Field("max_parallel", "Max parallel", integer(1, 10_000), "int", "the run's"),
                Field("max_items", "Max items", integer(0, 1_000_000), "int", "default"),
                Field("tolerate_failures", "Tolerate failures", integer(0, 1_000_000), "int", "0"),
            ),
            defaults=MappingProxyType({"items": "output.items", "handler": "handle_item"}),
        ),
        "subworkflow": KindView(
            glyph="⊞",
            colour="#73daca",
            border="round",
            letter="s",
            label="Sub-workflow",
            fields=(
                ID,
                NAME,
                *CHILD_RUN,
                RETRIES,
                Field("compensation", "Compensation", placeholder="node id"),
            ),
            defaults=MappingProxyType({"workflow": "child-workflow"}),
        ),
        "compensation": KindView(
            glyph="↺",
            colour="#9ece6a",
            border="dashed",
            letter="c",
            label="Compensation",
            fields=(ID, NAME, *RUNNABLE, Field("compensates", "Compensates")),
        ),
        "approval": KindView(
            glyph="☑",
            colour="#f7768e",
            border="rect",
            letter="a",
            label="Approval",
            fields=(
                ID,
                NAME,
                Field("message", "Message", check_template_text, placeholder="{{ params.x }}"),
                Field("required", "Required", integer(1, 100), "int", "1"),
                Field("timeout", "Timeout", check_timeout, placeholder="none"),
                Field(
                    "on_timeout",
                    "On timeout",
                    placeholder="reject",
                    choices=("approve", "reject", "fail"),
                ),
            ),
            defaults=MappingProxyType({"message": "Approve?"}),
        ),
        "signal": KindView(
            glyph="⚑",
            colour="#73daca",
            border="rect",
            letter="g",
            label="Signal (wait for)",
            fields=(
                ID,
                NAME,
                Field("signal", "Signal", pattern(HANDLER_PATTERN, "a signal name")),
                Field("timeout", "Timeout", check_timeout, placeholder="none"),
                Field("on_timeout", "On timeout", placeholder="fail", choices=("fail", "continue")),
            ),
            defaults=MappingProxyType({"signal": "event"}),
        ),
    }
)
"""Every node kind, in the palette's order."""

UNKNOWN_KIND = KindView(
    glyph="?", colour="#ffffff", border="round", letter="", label="Unknown", fields=(ID, NAME)
)
"""How a node of a type the app does not know is drawn and edited."""


def kind_view(kind: object) -> KindView:
    """The view of ``kind``, or :data:`UNKNOWN_KIND` for a type the app does not know."""
    return KINDS.get(str(kind), UNKNOWN_KIND)
