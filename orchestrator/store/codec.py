"""Run state to and from its Redis hash.

The hash holds ``meta`` (JSON of the run-level fields) and one ``n:<node id>`` field
per node (compact JSON with short keys), so a transition rewrites only the nodes it
changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from orchestrator.engine.state import NodeState, RunState
from orchestrator.vocab import NodeStatus, RunStatus

NODE_PREFIX = "n:"
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
)


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


def decode_run(fields: Mapping[bytes, bytes]) -> tuple[RunState, int]:
    """A run and its CAS version from the hash's fields; ``ValueError`` if it is not one."""
    raw_meta = fields.get(b"meta")
    if raw_meta is None:
        raise ValueError("run hash has no meta field")
    m = orjson.loads(raw_meta)
    nodes: dict[str, NodeState] = {}
    for key, value in fields.items():
        if key.startswith(b"n:"):
            nodes[key[2:].decode()] = decode_node(value)
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
        signals={k: tuple(v) for k, v in (m.get("sig") or {}).items()},
    )
    return state, int(fields.get(b"v", b"0"))


def changed_fields(old: RunState | None, new: RunState) -> list[bytes | str]:
    """HSET arguments (field, value, ...) for what differs between ``old`` and ``new``."""
    out: list[bytes | str] = ["meta", encode_meta(new)]
    for node_id, node in new.nodes.items():
        if old is None or old.nodes.get(node_id) is not node:
            out.append(NODE_PREFIX + node_id)
            out.append(encode_node(node))
    return out
