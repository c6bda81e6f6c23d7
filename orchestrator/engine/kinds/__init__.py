"""One module per node kind: what it does when ready, on a timer, whether it runs a handler.

:data:`KINDS` is the table :class:`orchestrator.engine.tx.Tx` dispatches through, keyed
by the spec's node types (``orchestrator.spec.model.NODE_TYPES``);
``tests/test_node_kinds.py`` fails when a kind is missing from it or from any other
per-kind table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from orchestrator.engine.kinds.approval import Approval
from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.kinds.compensation import Compensation
from orchestrator.engine.kinds.decision import Decision
from orchestrator.engine.kinds.delay import Delay
from orchestrator.engine.kinds.exclusive import Exclusive
from orchestrator.engine.kinds.inclusive import Inclusive
from orchestrator.engine.kinds.map import Map
from orchestrator.engine.kinds.parallel import Parallel
from orchestrator.engine.kinds.runnable import Runnable
from orchestrator.engine.kinds.signal import Signal
from orchestrator.engine.kinds.subworkflow import Subworkflow
from orchestrator.engine.kinds.task import Task

KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        "task": Task(),
        "decision": Decision(),
        "exclusive": Exclusive(),
        "inclusive": Inclusive(),
        "parallel": Parallel(),
        "delay": Delay(),
        "compensation": Compensation(),
        "map": Map(),
        "subworkflow": Subworkflow(),
        "approval": Approval(),
        "signal": Signal(),
    }
)
"""Node type -> its rules."""


def runnable(kind: str) -> Runnable:
    """The rules of a kind that runs handlers (AssertionError for any other)."""
    rules = KINDS[kind]
    assert isinstance(rules, Runnable), kind
    return rules


__all__ = ["KINDS", "Kind", "Runnable", "runnable"]
