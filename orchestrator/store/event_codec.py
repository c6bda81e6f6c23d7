"""A run's events to and from the entries of its stream (``ev:<run id>``).

An event is stored as a compact JSON array ``[type code, node, attempt, data]`` (trailing
empties left out), and its time is the entry id's milliseconds: the executor adds each
entry at ``<at_ms>-*`` and only when the stream already holds a later id (another
orchestrator's clock ran ahead) falls back to Redis's id with the time in a ``t`` field.
A 10-task run's 32 events take about 800 bytes this way, against 2,900 as JSON objects.

Entries written before (``{"type": ..., "at": ..., "node": ..., "data": ...}``) still
decode: a run in flight across an upgrade keeps its whole history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from orchestrator.engine.commands import Emit
from orchestrator.vocab import EventType

# The stored code of each event type is its position here: append new types, never
# reorder (the codes are in every stream kept).  A type missing from the table is
# stored by name, so an omission costs bytes, not history.
_CODED: tuple[EventType, ...] = (
    EventType.RUN_STARTED,
    EventType.RUN_RETRIED,
    EventType.RUN_COMPENSATING,
    EventType.RUN_COMPLETED,
    EventType.RUN_FAILED,
    EventType.RUN_COMPENSATED,
    EventType.RUN_CANCELLED,
    EventType.COMPENSATION_STARTED,
    EventType.NODE_READY,
    EventType.NODE_QUEUED,
    EventType.NODE_STARTED,
    EventType.NODE_COMPLETED,
    EventType.NODE_FAILED,
    EventType.NODE_RETRYING,
    EventType.NODE_WAITING,
    EventType.NODE_SKIPPED,
    EventType.NODE_CANCELLED,
    EventType.NODE_COMPENSATING,
    EventType.NODE_COMPENSATED,
    EventType.COMPENSATION_FAILED,
    EventType.ITEM_COMPLETED,
    EventType.ITEM_RETRYING,
    EventType.ITEM_FAILED,
    EventType.APPROVAL_REQUESTED,
    EventType.APPROVAL_DECIDED,
    EventType.SIGNAL_RECEIVED,
    EventType.NODE_TIMED_OUT,
    EventType.BRANCH_CANCELLED,
)
_CODE_OF: dict[str, int] = {t.value: i for i, t in enumerate(_CODED)}
_ATTEMPT = "attempt"
TIME_FIELD = b"t"
"""The entry field holding the event's time when the entry id could not carry it."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One entry of a run's event stream."""

    id: str
    type: str
    at_ms: int
    node: str | None
    data: dict[str, Any]


def encode_event(cmd: Emit) -> bytes:
    """The stream payload (field ``d``) of an :class:`Emit` command; its time goes in
    the entry id (see the module docstring)."""
    data = dict(cmd.data)
    attempt: Any = None
    # The attempt leads most node events' data: kept in a slot of its own when it is
    # the first key (so the decoded dict has the keys in their original order).
    first = next(iter(data), None)
    if first == _ATTEMPT and type(data[_ATTEMPT]) is int:
        attempt = data.pop(_ATTEMPT)
    row: list[Any] = [_CODE_OF.get(cmd.type, cmd.type), cmd.node, attempt, data or None]
    while row[-1] is None:
        row.pop()
    return orjson.dumps(row)


def decode_event(entry_id: bytes | str, fields: dict[bytes, bytes]) -> StoredEvent:
    """A stream entry written by the executor, in either format."""
    eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    d = orjson.loads(fields[b"d"])
    if isinstance(d, dict):  # the format before compact entries
        return StoredEvent(
            id=eid,
            type=d["type"],
            at_ms=int(d["at"]),
            node=d.get("node"),
            data=d.get("data") or {},
        )
    code, node, attempt, data = (*d, None, None, None)[:4]
    kind = _CODED[code].value if isinstance(code, int) else str(code)
    body: dict[str, Any] = data or {}
    if attempt is not None:
        body = {_ATTEMPT: attempt, **body}
    raw_at = fields.get(TIME_FIELD)
    at_ms = int(raw_at) if raw_at is not None else int(eid.partition("-")[0])
    return StoredEvent(id=eid, type=kind, at_ms=at_ms, node=node, data=body)
