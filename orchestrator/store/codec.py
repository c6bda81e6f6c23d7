"""Run state to and from its Redis hash.

The hash holds ``meta`` (JSON of the run-level fields), one ``n:<node id>`` field
per node and one ``i:<node id>[<index>]`` field per map item (compact JSON with short
keys), so a transition rewrites only the nodes and items it changed: settling one item
of a 10,000-item map writes that item and the map's small progress, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

import orjson

from orchestrator.engine.items import EMPTY_ITEMS, ItemTable
from orchestrator.engine.state import NodeState, RunState, item_key
from orchestrator.vocab import NodeStatus, RunStatus

NODE_PREFIX = "n:"
ITEM_PREFIX = "i:"
_NODE_KEYS: tuple[tuple[str, str], ...] = (
    ("status", "s"),
    ("attempts", "a"),
    ("token", "t"),
    ("start_ms", "b"),
    ("end_ms", "e"),
    ("due_ms", "d"),
    ("input", "i"),
    ("output", "o"),
    ("last_error", "x"),
    ("worker", "w"),
    ("seq", "q"),
    ("child", "c"),
)
_PROGRESS_PREFIX = "p:"
_SAME_UNLESS_PROGRESS = tuple(f.name for f in fields(NodeState) if f.name != "progress")


def encode_node(node: NodeState) -> bytes:
    """Compact JSON of one node's state; defaults are left out."""
    d: dict[str, Any] = {}
    for attr, short in _NODE_KEYS:
        value = getattr(node, attr)
        # Leave out only what decodes back to the same default: a time of 0 ms is a time.
        if value is not None and not (attr == "attempts" and value == 0):
            d[short] = value
    if node.taken is not None:
        d["k"] = list(node.taken)
    if node.decisions:
        d["y"] = list(node.decisions)
    return orjson.dumps(d)


# Decoded nodes by their stored bytes.  An orchestrator reloads a run whenever another
# one moved it on (a lost compare-and-set) or its cache let it go, and most of the run's
# nodes are then byte for byte what it decoded before (every pending node of every run
# is the same few bytes): the profile had decoding at a fifth of the orchestrator's time.
# NodeState is immutable, so one object can stand for all its equal copies.
_DECODED: dict[bytes | str, NodeState] = {}
_DECODED_MAX = 16_384


def decode_node(raw: bytes | str) -> NodeState:
    """Inverse of :func:`encode_node`."""
    node = _DECODED.get(raw)
    if node is None:
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        node = _DECODED[raw] = _decode_node(raw)
    return node


def _decode_node(raw: bytes | str) -> NodeState:
    d = orjson.loads(raw)
    kwargs: dict[str, Any] = {attr: d.get(short) for attr, short in _NODE_KEYS if short in d}
    kwargs["status"] = NodeStatus(d.get("s", NodeStatus.PENDING))
    kwargs.setdefault("attempts", 0)
    if "k" in d:
        kwargs["taken"] = tuple(d["k"])
    if "y" in d:
        kwargs["decisions"] = tuple(d["y"])
    return NodeState(**kwargs)


def encode_meta(state: RunState) -> bytes:
    """JSON of the run-level fields."""
    return orjson.dumps(
        {
            "id": state.run_id,
            "wf": state.workflow_id,
            "ver": state.workflow_version,
            "status": state.status,
            "start": state.start_ms,
            "end": state.end_ms,
            "error": state.error,
            "errorNode": state.error_node,
            "deadline": state.deadline_ms,
            "epoch": state.epoch,
            "seq": state.seq,
            "ready": list(state.ready),
            "priority": state.priority,
            "cq": list(state.compensation_queue),
            "cs": state.compensation_started,
            "cf": state.compensation_failed,
            "params": state.params,
            "vars": state.variables,
            "output": state.output,
            "meta": state.meta,
            **({"sig": {k: list(v) for k, v in state.signals.items()}} if state.signals else {}),
        }
    )


def decode_run(hash_fields: Mapping[bytes, bytes]) -> tuple[RunState, int]:
    """A run and its CAS version from the hash's fields; ``ValueError`` if it is not one."""
    raw_meta = hash_fields.get(b"meta")
    if raw_meta is None:
        raise ValueError("run hash has no meta field")
    m = orjson.loads(raw_meta)
    nodes: dict[str, NodeState] = {}
    items: dict[str, NodeState] = {}
    progress: dict[str, Any] = {}
    for key, value in hash_fields.items():
        if key.startswith(b"n:"):
            nodes[key[2:].decode()] = decode_node(value)
        elif key.startswith(b"i:"):
            items[key[2:].decode()] = decode_node(value)
        elif key.startswith(b"p:"):
            progress[key[2:].decode()] = orjson.loads(value)
    for node_id, counts in progress.items():
        if counts is not None and node_id in nodes:
            nodes[node_id] = replace(nodes[node_id], progress=counts)
    state = RunState(
        run_id=m["id"],
        workflow_id=m["wf"],
        workflow_version=int(m["ver"]),
        status=RunStatus(m["status"]),
        start_ms=int(m["start"]),
        nodes=nodes,
        params=m.get("params") or {},
        variables=m.get("vars") or {},
        end_ms=m.get("end"),
        error=m.get("error"),
        error_node=m.get("errorNode"),
        deadline_ms=m.get("deadline"),
        epoch=int(m.get("epoch", 0)),
        seq=int(m.get("seq", 0)),
        ready=tuple(m.get("ready") or ()),
        priority=int(m.get("priority", 5)),
        compensation_queue=tuple(m.get("cq") or ()),
        compensation_started=bool(m.get("cs", False)),
        compensation_failed=bool(m.get("cf", False)),
        output=m.get("output"),
        meta=m.get("meta") or {},
        items=ItemTable.of(items) if items else EMPTY_ITEMS,
        signals={k: tuple(v) for k, v in (m.get("sig") or {}).items()},
    )
    return state, int(hash_fields.get(b"v", b"0"))


def changed_fields(old: RunState | None, new: RunState) -> list[bytes | str]:
    """HSET arguments (field, value, ...) for what differs between ``old`` and ``new``."""
    out: list[bytes | str] = ["meta", encode_meta(new)]
    for node_id, node in new.nodes.items():
        was = None if old is None else old.nodes.get(node_id)
        if was is node:
            continue
        # A map's progress changes with every item: it has its own field, so that the
        # node (and its input, which may hold the whole list) is not written again.
        if was is None or any(
            getattr(was, name) is not getattr(node, name) for name in _SAME_UNLESS_PROGRESS
        ):
            out.append(NODE_PREFIX + node_id)
            out.append(encode_node(node))
        if (node.progress is not None) if was is None else (was.progress is not node.progress):
            out.append(_PROGRESS_PREFIX + node_id)
            out.append(orjson.dumps(node.progress))  # null once a retry resets the node
    if old is None or old.items is not new.items:
        # Identity checks, chunk by chunk: an item that settled is the one entry written.
        after = new.items if isinstance(new.items, ItemTable) else ItemTable.of(new.items)
        before = (
            old.items if old is not None and isinstance(old.items, ItemTable) else EMPTY_ITEMS
        )  # a plain mapping is only ever the empty default
        touched = after.touched_since(before)
        if touched is not None:
            for key in touched:
                out.append(ITEM_PREFIX + key)
                out.append(encode_node(after[key]))
            return out
        for ck, chunk in after.chunks.items():
            old_chunk = before.chunks.get(ck)
            if old_chunk is chunk:
                continue
            for index, item in chunk.items():
                if old_chunk is None or old_chunk.get(index) is not item:
                    out.append(ITEM_PREFIX + item_key(ck[0], index))
                    out.append(encode_node(item))
    return out
