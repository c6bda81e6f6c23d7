"""A retry's ``skipNodes`` and ``parameters`` (the upstream reference's RetryOptions)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orchestrator.engine.events import RetryRequested
from orchestrator.engine.transitions import apply
from orchestrator.errors import BadRequest, NotFound

from .helpers import Run, dispatched, dispatched_nodes, edge, emitted_for, task


def _spec() -> dict[str, Any]:
    # a -> b -> join(all) <- c ;  join -> d
    return {
        "nodes": [
            task("a"),
            task("b", retries=0),
            task("c"),
            {"id": "join", "type": "parallel"},
            task("d"),
        ],
        "edges": [edge("a", "b"), edge("a", "c"), edge("b", "join"), edge("c", "join"),
                  edge("join", "d")],
    }  # fmt: skip


def _failed_at_b() -> Run:
    run = Run(_spec(), {"region": "eu"})
    run.succeed("a", {"x": 1})
    run.succeed("c", {"c": 1})
    run.fail("b")
    assert run.run_status() == "failed"
    return run


def test_a_skipped_node_is_not_run_and_its_successors_go_on() -> None:
    run = _failed_at_b()
    cmds = run.send(RetryRequested(run.tick(), skip_nodes=("b",)))
    assert run.status("b") == "skipped"
    assert emitted_for(cmds, "b") == ["node_skipped"]
    # b passes its edge on: the join (all) is satisfied, d runs with c's output
    assert dispatched_nodes(cmds) == ["d"]
    assert run.status("join") == "completed"
    run.succeed("d")
    assert run.run_status() == "completed"


def test_an_ordinary_skip_still_blocks_its_successors() -> None:
    # the pass-through is only for nodes skipped on request: a branch not taken stays dead
    run = Run(
        {
            "nodes": [{"id": "d", "type": "decision", "condition": "False"}, task("t"),
                      task("f"), task("after_t")],
            "edges": [edge("d", "t", condition=True), edge("d", "f", condition=False),
                      edge("t", "after_t")],
        }
    )  # fmt: skip
    assert run.status("t") == "skipped" and run.status("after_t") == "skipped"


def test_retry_parameters_replace_the_runs_for_the_new_attempts() -> None:
    run = _failed_at_b()
    cmds = run.send(RetryRequested(run.tick(), params={"region": "us"}))
    assert run.state.params == {"region": "us"}
    [job] = dispatched(cmds)
    assert job.node == "b" and job.params == {"region": "us"}


@pytest.mark.parametrize(
    ("skip", "error", "words"),
    [
        (("nope",), NotFound, "no step 'nope' to skip"),
        (("join",), BadRequest, "only tasks and delays can be skipped, not 'join' (parallel)"),
    ],
)
def test_what_cannot_be_skipped_is_refused_and_nothing_changes(
    skip: tuple[str, ...], error: type[Exception], words: str
) -> None:
    run = _failed_at_b()
    with pytest.raises(error, match=re.escape(words)):
        apply(run.graph, run.state, RetryRequested(run.tick(), skip_nodes=skip), run.cfg)
    assert run.run_status() == "failed"
