"""Map items and progress in the run hash: each written alone, and read back the same."""

from __future__ import annotations

from typing import Any

from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import NodeFailed, NodeSucceeded
from orchestrator.engine.retry import RetryRule
from orchestrator.engine.state import RunState, item_key
from orchestrator.store.codec import changed_fields, decode_run
from tests.engine.helpers import Run, edge, task
from tests.store.test_codec import _as_hash

SPEC: dict[str, Any] = {
    "nodes": [
        task("a"),
        {"id": "m", "type": "map", "items": "output.records", "handler": "h", "max_parallel": 2},
    ],
    "edges": [edge("a", "m")],
}


class Hash:
    """A run hash as HSET builds it from each transition's changed fields."""

    def __init__(self, state: RunState) -> None:
        self.fields = _as_hash(changed_fields(None, state), 1)
        self.state = state
        self.written: list[str] = []

    def write(self, new: RunState) -> None:
        changed = changed_fields(self.state, new)
        self.written = [k for k in changed[::2] if isinstance(k, str)]
        self.fields.update(_as_hash(changed, int(self.fields[b"v"]) + 1))
        self.state = new

    def read(self) -> RunState:
        return decode_run(self.fields)[0]


def test_settling_an_item_writes_that_item_and_the_progress_only() -> None:
    run = Run(SPEC, config=EngineConfig(retry=RetryRule(max_attempts=1)))
    h = Hash(run.state)
    run.succeed("a", {"records": list(range(500))})
    h.write(run.state)
    assert h.read() == run.state
    token = run.state.items[item_key("m", 0)].token
    assert token is not None
    run.send(NodeSucceeded(item_key("m", 0), token, run.tick(), {"ok": 0}))
    h.write(run.state)
    # The map's node field (its input holds the 500 records) is not written again.
    assert sorted(h.written) == ["i:m[0]", "i:m[2]", "meta", "p:m"]
    assert h.read() == run.state

    token = run.state.items[item_key("m", 1)].token
    assert token is not None
    run.send(NodeFailed(item_key("m", 1), token, run.tick(), "bad"))
    h.write(run.state)
    assert h.read() == run.state
    run.retry("a")  # the map goes back to pending: its stored progress must not come back
    h.write(run.state)
    assert run.state.nodes["m"].progress is None
    assert h.read() == run.state
