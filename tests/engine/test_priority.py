"""A node's own priority picks its lane; a node without one takes the run's priority."""

from __future__ import annotations

import pytest

from orchestrator.engine.commands import Dispatch
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.transitions import start
from orchestrator.spec.export import dump_spec
from orchestrator.spec.loader import load_text
from tests.engine.helpers import T0, graph_of, task


def _lane(node: dict[str, object], run_priority: int) -> str:
    graph = graph_of({"nodes": [node]})
    _, commands = start(
        graph,
        run_id="r1",
        workflow_version=1,
        params={},
        now_ms=T0,
        config=EngineConfig(),
        priority=run_priority,
    )
    [lane] = [c.lane for c in commands if isinstance(c, Dispatch)]
    return lane


@pytest.mark.parametrize(
    ("node_priority", "run_priority", "lane"),
    [
        (5, 9, "normal"),  # explicitly 5 overrides a high run
        (5, 1, "normal"),  # ... and a low one
        (None, 9, "high"),  # unset: the run's priority
        (None, 1, "low"),
        (9, 1, "high"),
    ],
)
def test_a_nodes_priority_overrides_the_runs_even_when_it_is_5(
    node_priority: int | None, run_priority: int, lane: str
) -> None:
    node = task("a") if node_priority is None else task("a", priority=node_priority)
    assert _lane(node, run_priority) == lane


def test_an_explicit_priority_of_5_survives_export() -> None:
    text = """
name: p
nodes:
  - {id: a, type: task, handler: h, priority: 5}
  - {id: b, type: task, handler: h}
"""
    again = load_text(dump_spec(load_text(text)))
    assert [getattr(n, "priority", "?") for n in again.nodes] == [5, None]
