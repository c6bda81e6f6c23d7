"""Run state to and from its Redis hash.

The hash holds ``meta`` (the run-level fields), one ``n:<node id>`` field per node and
one ``i:<node id>[<index>]`` field per map item, so a transition rewrites only the nodes
and items it changed: settling one item of a 10,000-item map writes that item and the
map's small progress, nothing else.

Each field is a JSON array with its values by position (statuses as small codes, an end
time as the milliseconds after the start, trailing empties left out): a finished node of
the 10-task bench DAG is 69 bytes, where it was 121 as a JSON object with short keys.
Fields written in that earlier form (a JSON object) still decode, so runs in flight
across an upgrade go on; the next write of a node or of ``meta`` stores the new form.
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


# Stored codes of the statuses: positions here.  Append, never reorder (the codes are
# in every hash kept); a status missing from a table is stored by name.
_NODE_CODES: tuple[NodeStatus, ...] = (
    NodeStatus.PENDING,
    NodeStatus.QUEUED,
    NodeStatus.RUNNING,
    NodeStatus.WAITING,
    NodeStatus.COMPLETED,
    NodeStatus.FAILED,
    NodeStatus.SKIPPED,
    NodeStatus.COMPENSATING,
    NodeStatus.COMPENSATED,
    NodeStatus.CANCELLED,
)
_RUN_CODES: tuple[RunStatus, ...] = (
    RunStatus.PENDING,
    RunStatus.RUNNING,
    RunStatus.COMPLETED,
    RunStatus.FAILED,
    RunStatus.COMPENSATING,
    RunStatus.COMPENSATED,
    RunStatus.CANCELLED,
)
_NODE_CODE_OF: dict[str, int] = {s.value: i for i, s in enumerate(_NODE_CODES)}
_RUN_CODE_OF: dict[str, int] = {s.value: i for i, s in enumerate(_RUN_CODES)}


def _trimmed(row: list[Any]) -> list[Any]:
    while row and row[-1] is None:
        row.pop()
    return row


def encode_node(node: NodeState) -> bytes:
    """Compact JSON of one node's state: ``[status, attempts, token, start, end - start,
    due, input, output, last error, worker, seq, child, taken, decisions]``."""
    token: Any = node.token
    if token is not None:
        # "<epoch>.<attempt>" of the current attempt (nearly always): the epoch alone.
        epoch, _, attempt = token.partition(".")
        if attempt == str(node.attempts) and epoch.isdigit() and str(int(epoch)) == epoch:
            token = int(epoch)
    start, end = node.start_ms, node.end_ms
    return orjson.dumps(
        _trimmed(
            [
                _NODE_CODE_OF.get(node.status, node.status.value),
                node.attempts,
                token,
                start,
                end - start if end is not None and start is not None else end,
                node.due_ms,
                node.input,
                node.output,
                node.last_error,
                node.worker,
                node.seq,
                node.child,
                None if node.taken is None else list(node.taken),
                list(node.decisions) if node.decisions else None,
            ]
        )
    )


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
    if isinstance(d, dict):
        return _decode_node_object(d)
    row: list[Any] = [*d, *(None,) * (14 - len(d))]
    s, attempts, token, start, end, due, inp, out, err, worker, seq, child, taken, dec = row
    attempts = attempts or 0
    return NodeState(
        status=_NODE_CODES[s] if isinstance(s, int) else NodeStatus(s),
        attempts=attempts,
        token=f"{token}.{attempts}" if isinstance(token, int) else token,
        start_ms=start,
        end_ms=end + start if end is not None and start is not None else end,
        due_ms=due,
        input=inp,
        output=out,
        last_error=err,
        worker=worker,
        seq=seq,
        child=child,
        taken=None if taken is None else tuple(taken),
        decisions=tuple(dec) if dec else (),
    )


def _decode_node_object(d: dict[str, Any]) -> NodeState:
    """A node field as written before positional arrays (an object with short keys)."""
    kwargs: dict[str, Any] = {attr: d.get(short) for attr, short in _NODE_KEYS if short in d}
    kwargs["status"] = NodeStatus(d.get("s", NodeStatus.PENDING))
    kwargs.setdefault("attempts", 0)
    if "k" in d:
        kwargs["taken"] = tuple(d["k"])
    if "y" in d:
        kwargs["decisions"] = tuple(d["y"])
    return NodeState(**kwargs)


def encode_meta(state: RunState) -> bytes:
    """Compact JSON of the run-level fields (see :func:`decode_meta` for the positions)."""
    start = state.start_ms
    return orjson.dumps(
        _trimmed(
            [
                state.run_id,
                state.workflow_id,
                state.workflow_version,
                _RUN_CODE_OF.get(state.status, state.status.value),
                start,
                None if state.end_ms is None else state.end_ms - start,
                state.error,
                state.error_node,
                None if state.deadline_ms is None else state.deadline_ms - start,
                state.epoch or None,
                state.seq or None,
                None if state.priority == 5 else state.priority,
                state.output,
                state.params or None,
                state.variables or None,
                state.meta or None,
                list(state.ready) or None,
                list(state.compensation_queue) or None,
                state.compensation_started or None,
                state.compensation_failed or None,
                {k: list(v) for k, v in state.signals.items()} or None,
            ]
        )
    )


def decode_meta(raw: bytes | str) -> dict[str, Any]:
    """The run-level fields of a stored ``meta``, in either format, as the JSON object
    the earlier format held (``id``, ``wf``, ``ver``, ``status``, ``start``, ``end``,
    ``error``...): what run listings read."""
    m = orjson.loads(raw)
    if isinstance(m, dict):
        return m
    row: list[Any] = [*m, *(None,) * (21 - len(m))]
    (
        run_id, wf, ver, status, start, end, error, error_node, deadline, epoch, seq,
        priority, output, params, variables, meta, ready, cq, cs, cf, sig,
    ) = row  # fmt: skip
    out: dict[str, Any] = {
        "id": run_id,
        "wf": wf,
        "ver": ver,
        "status": _RUN_CODES[status].value if isinstance(status, int) else status,
        "start": start,
        "end": None if end is None else start + end,
        "error": error,
        "errorNode": error_node,
        "deadline": None if deadline is None else start + deadline,
        "epoch": epoch or 0,
        "seq": seq or 0,
        "ready": ready or [],
        "priority": 5 if priority is None else priority,
        "cq": cq or [],
        "cs": bool(cs),
        "cf": bool(cf),
        "params": params or {},
        "vars": variables or {},
        "output": output,
        "meta": meta or {},
    }
    if sig:
        out["sig"] = sig
    return out


def decode_run(hash_fields: Mapping[bytes, bytes]) -> tuple[RunState, int]:
    """A run and its CAS version from the hash's fields; ``ValueError`` if it is not one."""
    raw_meta = hash_fields.get(b"meta")
    if raw_meta is None:
        raise ValueError("run hash has no meta field")
    m = decode_meta(raw_meta)
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
