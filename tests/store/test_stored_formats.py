"""What a run leaves in Redis: compact events and fields, and the earlier format still read.

A run in flight across an upgrade has its hash and its event stream half in the format
of the version before (JSON objects with short keys, ``{"type", "at", "node", "data"}``
events) and half in the compact one: both decode to the same state and events.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.engine import transitions
from orchestrator.engine.commands import Emit
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import NodeStarted, NodeSucceeded
from orchestrator.engine.state import NodeState, RunState
from orchestrator.keys import Keys
from orchestrator.store import event_codec
from orchestrator.store.codec import decode_meta, decode_node, decode_run, encode_meta
from orchestrator.store.event_codec import decode_event, encode_event
from orchestrator.store.runs import RunStore
from orchestrator.vocab import EventType, NodeStatus, RunStatus
from tests.engine.helpers import T0, edge, graph_of, task

CONFIG = EngineConfig()
GRAPH = graph_of({"nodes": [task("a"), task("b")], "edges": [edge("a", "b")]})

# Written by the format before compact fields (copied from a bench run's hash and stream).
OLD_NODE = (
    b'{"s":"completed","a":1,"t":"0.1","b":1796130143590,"e":1796130143591,'
    b'"i":{"ok":true},"o":{"ok":true},"w":"bench-1","q":6}'
)
OLD_META = (
    b'{"id":"run-1","wf":"bench-diamond","ver":1,"status":"completed","start":1796130142627,'
    b'"end":1796130144559,"error":null,"errorNode":null,"deadline":1796133742627,"epoch":0,'
    b'"seq":10,"ready":[],"priority":5,"cq":[],"cs":false,"cf":false,"params":{},"vars":{},'
    b'"output":{"ok":true},"meta":{}}'
)
OLD_EVENT = (
    b'{"type":"node_started","at":1796130143325,"node":"t1",'
    b'"data":{"attempt":1,"worker":"bench-0"}}'
)


def _old_node(node: NodeState) -> bytes:
    """The earlier encoder of a node field (JSON object, short keys, defaults left out)."""
    pairs = [
        ("s", node.status), ("a", node.attempts or None), ("t", node.token),
        ("b", node.start_ms), ("e", node.end_ms), ("d", node.due_ms), ("i", node.input),
        ("o", node.output), ("x", node.last_error), ("w", node.worker), ("q", node.seq),
        ("c", node.child),
    ]  # fmt: skip
    return orjson.dumps({k: v for k, v in pairs if v is not None})


def _old_meta(state: RunState) -> bytes:
    """The earlier encoder of ``meta`` (a JSON object)."""
    return orjson.dumps(
        {
            "id": state.run_id, "wf": state.workflow_id, "ver": state.workflow_version,
            "status": state.status, "start": state.start_ms, "end": state.end_ms,
            "error": state.error, "errorNode": state.error_node,
            "deadline": state.deadline_ms, "epoch": state.epoch, "seq": state.seq,
            "ready": list(state.ready), "priority": state.priority,
            "cq": list(state.compensation_queue), "cs": state.compensation_started,
            "cf": state.compensation_failed, "params": state.params,
            "vars": state.variables, "output": state.output, "meta": state.meta,
        }
    )  # fmt: skip


def _old_event(cmd: Emit) -> bytes:
    d: dict[str, Any] = {"type": cmd.type, "at": cmd.at_ms}
    if cmd.node is not None:
        d["node"] = cmd.node
    if cmd.data:
        d["data"] = dict(cmd.data)
    return orjson.dumps(d)


def test_every_event_type_has_a_code_of_its_own() -> None:
    assert sorted(event_codec._CODED) == sorted(EventType)
    assert len(set(event_codec._CODED)) == len(event_codec._CODED)


data_values = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4)
event_data = st.dictionaries(
    st.sampled_from(["attempt", "worker", "handler", "x", "a"]), data_values, max_size=3
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded machine
@given(
    st.sampled_from(list(EventType)),
    st.integers(0, 2**45),
    st.none() | st.text(min_size=1, max_size=6),
    event_data,
)
def test_an_event_decodes_to_what_was_emitted(
    kind: EventType, at_ms: int, node: str | None, data: dict[str, Any]
) -> None:
    payload = encode_event(Emit(kind, at_ms, node, data))
    ev = decode_event(f"{at_ms}-3".encode(), {b"d": payload})
    assert (ev.type, ev.at_ms, ev.node, ev.data) == (kind, at_ms, node, data)
    assert list(ev.data) == list(data)  # the SSE payload's keys in their order
    # Stored under another id (a clock ahead): the time comes from the entry's t field.
    moved = decode_event(b"9999999999999-0", {b"d": payload, b"t": str(at_ms).encode()})
    assert moved.at_ms == at_ms


def test_entries_and_fields_of_the_earlier_format_still_decode() -> None:
    ev = decode_event(b"1796130143573-0", {b"d": OLD_EVENT})
    assert (ev.type, ev.at_ms, ev.node) == ("node_started", 1796130143325, "t1")
    assert ev.data == {"attempt": 1, "worker": "bench-0"}
    node = decode_node(OLD_NODE)
    assert node == NodeState(
        status=NodeStatus.COMPLETED, attempts=1, token="0.1", start_ms=1796130143590,
        end_ms=1796130143591, input={"ok": True}, output={"ok": True}, worker="bench-1", seq=6,
    )  # fmt: skip
    assert decode_meta(OLD_META) == orjson.loads(OLD_META)
    state, version = decode_run({b"meta": OLD_META, b"n:t5": OLD_NODE, b"v": b"9"})
    assert (state.status, state.end_ms, state.output, version) == (
        RunStatus.COMPLETED,
        1796130144559,
        {"ok": True},
        9,
    )
    assert decode_meta(encode_meta(state)) == orjson.loads(OLD_META)  # listings read the same


async def test_a_run_written_in_the_earlier_format_goes_on_after_an_upgrade(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    store = RunStore(redis_client, keys)
    state, commands = transitions.start(
        GRAPH, run_id="r-old", workflow_version=1, params={}, now_ms=T0, config=CONFIG
    )
    # What the version before wrote: object fields and object events at Redis's ids.
    run_key, events_key = keys.run("r-old"), keys.run_events("r-old")
    fields: dict[Any, Any] = {"meta": _old_meta(state), "v": b"1"}
    fields |= {f"n:{nid}": _old_node(node) for nid, node in state.nodes.items()}
    await redis_client.hset(run_key, mapping=fields)
    emitted = [c for c in commands if isinstance(c, Emit)]
    old_entries = len(emitted)
    for cmd in emitted:
        await redis_client.xadd(events_key, {"d": _old_event(cmd)})
    loaded, version = await store.load("r-old")
    assert (loaded, version) == (state, 1)

    token = state.nodes["a"].token
    assert token is not None
    new, more = transitions.apply(GRAPH, state, NodeStarted("a", token, T0 + 5, "w1"), CONFIG)
    assert await store.write(state, new, more, version) == 2
    done, last = transitions.apply(GRAPH, new, NodeSucceeded("a", token, T0 + 9, {"x": 1}), CONFIG)
    assert await store.write(new, done, last, 2) == 3

    assert (await store.load("r-old")) == (done, 3)
    emitted += [c for c in [*more, *last] if isinstance(c, Emit)]
    events = await store.events("r-old")
    assert [(e.type, e.at_ms, e.node, e.data) for e in events] == [
        (c.type, c.at_ms, c.node, dict(c.data)) for c in emitted
    ]
    # The old entries' ids are Redis's clock (now), ahead of T0: the new entries could not
    # take their times as ids, and hold them in a field of their own.
    raw: Any = await redis_client.xrange(events_key)
    assert [b"t" in f for _, f in raw] == [False] * old_entries + [True] * (
        len(emitted) - old_entries
    )


async def test_events_take_their_time_as_entry_id_and_a_finished_run_fits_its_stream(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    store = RunStore(redis_client, keys, retention_s=600)
    state, commands = transitions.start(
        GRAPH, run_id="r-new", workflow_version=1, params={}, now_ms=T0, config=CONFIG
    )
    assert await store.create(state, commands) == 1
    version, emitted = 1, [c for c in commands if isinstance(c, Emit)]
    for node_id, at in (("a", T0 + 10), ("b", T0 + 20)):
        token = state.nodes[node_id].token
        assert token is not None
        for event in (
            NodeStarted(node_id, token, at, "w1"),
            NodeSucceeded(node_id, token, at + 1, {"x": 1}),
        ):
            new, cmds = transitions.apply(GRAPH, state, event, CONFIG)
            written = await store.write(state, new, cmds, version)
            assert written is not None
            state, version = new, written
            emitted += [c for c in cmds if isinstance(c, Emit)]
    assert state.status == RunStatus.COMPLETED

    raw: Any = await redis_client.xrange(keys.run_events("r-new"))
    assert [int(eid.split(b"-")[0]) for eid, _ in raw] == [c.at_ms for c in emitted]
    assert all(set(f) == {b"d"} for _, f in raw)
    events = await store.events("r-new")
    assert [(e.type, e.at_ms, e.node, e.data) for e in events] == [
        (c.type, c.at_ms, c.node, dict(c.data)) for c in emitted
    ]
    # Redis allocates a stream's last node 4 KB ahead; the finishing write sized it to
    # fit and kept the retention.
    used = await redis_client.memory_usage(keys.run_events("r-new"), samples=0)
    assert used is not None and used < 2048
    assert 0 < await redis_client.ttl(keys.run_events("r-new")) <= 600
