"""Run state to and from its Redis hash, and the camelCase API view."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.engine.state import NodeState, RunState
from orchestrator.service.views import iso, node_view, run_view
from orchestrator.store import codec
from orchestrator.store.codec import (
    changed_fields,
    decode_node,
    decode_run,
    encode_meta,
    encode_node,
)
from orchestrator.vocab import NODE_STATUSES, RUN_STATUSES, NodeStatus
from tests.engine.helpers import T0, Run, edge, task

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
times = st.none() | st.integers(0, 2**42)
ids = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)

node_states = st.builds(
    NodeState,
    status=st.sampled_from(NODE_STATUSES),
    attempts=st.integers(0, 50),
    token=st.none() | st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True),
    start_ms=times,
    end_ms=times,
    due_ms=times,
    input=st.none() | json_objects,
    output=st.none() | json_objects,
    last_error=st.none() | st.text(max_size=20),
    taken=st.none() | st.lists(st.text(min_size=1, max_size=8), max_size=3).map(tuple),
    seq=st.none() | st.integers(1, 1000),
    worker=st.none() | st.text(max_size=10),
)

run_states = st.builds(
    RunState,
    run_id=ids,
    workflow_id=ids,
    workflow_version=st.integers(1, 1000),
    status=st.sampled_from(RUN_STATUSES),
    start_ms=st.integers(0, 2**42),
    nodes=st.dictionaries(ids, node_states, max_size=5),
    params=json_objects,
    variables=json_objects,
    end_ms=times,
    error=st.none() | st.text(max_size=20),
    error_node=st.none() | ids,
    deadline_ms=times,
    epoch=st.integers(0, 100),
    seq=st.integers(0, 100),
    ready=st.lists(ids, max_size=3).map(tuple),
    priority=st.integers(0, 10),
    compensation_queue=st.lists(ids, max_size=3).map(tuple),
    compensation_started=st.booleans(),
    compensation_failed=st.booleans(),
    output=st.none() | json_objects,
    meta=json_objects,
)


def _as_hash(fields: list[bytes | str], version: int) -> dict[bytes, bytes]:
    """The HSET arguments as Redis would hand the hash back (bytes keys and values)."""
    pairs = zip(fields[::2], fields[1::2], strict=True)
    out = {
        (k.encode() if isinstance(k, str) else k): (v.encode() if isinstance(v, str) else v)
        for k, v in pairs
    }
    out[b"v"] = str(version).encode()
    return out


@given(node_states)
def test_node_state_round_trips(node: NodeState) -> None:
    assert decode_node(encode_node(node)) == node


@given(run_states, st.integers(0, 10**6))
def test_run_state_round_trips_through_its_hash(state: RunState, version: int) -> None:
    decoded, v = decode_run(_as_hash(changed_fields(None, state), version))
    assert v == version
    assert decoded == state


def test_a_hash_without_meta_is_not_a_run() -> None:
    try:
        decode_run({b"n:a": encode_node(NodeState())})
    except ValueError as exc:
        assert "meta" in str(exc)
    else:
        raise AssertionError("decode_run accepted a hash without meta")


def test_changed_fields_rewrites_only_the_nodes_a_transition_touched() -> None:
    run = Run({"nodes": [task("a"), task("b"), task("c")], "edges": [edge("a", "b")]})
    before = run.state
    run.succeed("c", {"x": 1})
    fields = changed_fields(before, run.state)
    names = [f for f in fields[::2]]
    assert names == ["meta", "n:c"]
    assert encode_meta(run.state) == fields[1]


def test_iso_renders_utc_milliseconds() -> None:
    assert iso(T0) == "2023-11-14T22:13:20.000Z"
    assert iso(T0 + 1234) == "2023-11-14T22:13:21.234Z"
    assert iso(None) is None


def test_run_view_has_the_designs_runtime_state_model_in_camel_case() -> None:
    run = Run(
        {"nodes": [task("a", retries=1), task("b")], "edges": [edge("a", "b")]},
        {"p": 1},
    )
    run.fail("a", "Connection timeout")
    run.fire("a")
    run.succeed("a", {"x": 1})
    run.begin("b")
    view = run_view(run.state, names={"a": "Fetch"})
    assert {
        "runId",
        "workflowId",
        "workflowVersion",
        "status",
        "startTime",
        "nodes",
        "context",
    } <= set(view)
    assert view["runId"] == "r1"
    assert view["workflowId"] == "wf"
    assert view["workflowVersion"] == 1
    assert view["status"] == "running"
    assert view["startTime"] == iso(T0)
    assert "endTime" not in view and "error" not in view
    assert view["context"] == {"parameters": {"p": 1}, "variables": {}}
    a: dict[str, Any] = view["nodes"]["a"]
    assert a["status"] == "completed"
    assert a["attempts"] == 2
    assert a["output"] == {"x": 1}
    assert a["nodeName"] == "Fetch"
    assert a["startTime"].endswith("Z") and a["endTime"].endswith("Z")
    b: dict[str, Any] = view["nodes"]["b"]
    assert b["status"] == "running"
    assert "endTime" not in b and "output" not in b
    assert all("_" not in key for key in view)
    assert all("_" not in key for node in view["nodes"].values() for key in node)


def test_run_view_of_a_failed_run_carries_end_time_and_errors() -> None:
    run = Run({"nodes": [task("a", retries=0)]})
    run.fail("a", "Connection timeout")
    view = run_view(run.state)
    assert view["status"] == "failed"
    assert view["endTime"] == iso(run.state.end_ms)
    assert "Connection timeout" in view["error"]
    assert view["errorNode"] == "a"
    assert view["nodes"]["a"]["lastError"] == "Connection timeout"
    assert node_view("a", run.node("a"))["duration"] >= 0


def test_equal_stored_nodes_decode_to_one_immutable_object_and_the_memo_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = NodeState(status=NodeStatus.COMPLETED, attempts=1, token="0.1", output={"ok": True})
    raw = encode_node(node)
    first, again = codec.decode_node(raw), codec.decode_node(bytes(raw))
    assert first == node and again is first
    monkeypatch.setattr(codec, "_DECODED_MAX", 3)
    codec._DECODED.clear()
    for i in range(10):
        assert codec.decode_node(encode_node(NodeState(attempts=i))).attempts == i
        assert len(codec._DECODED) <= 3
