"""Server-sent events of a run: the backlog after an id, then new events live.

Frames carry the stream id as ``id:`` so a client that reconnects with
``Last-Event-ID`` resumes exactly after the last event it saw.  The stream follows
the run with ``XREAD BLOCK`` and ends, with a final ``event: end`` frame, after the
run's terminal event (or at once when the run had already ended and nothing newer
is left to send); a comment line every few seconds keeps proxies from timing out.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from orchestrator.api.state import ApiState
from orchestrator.errors import NotFound
from orchestrator.service.views import iso
from orchestrator.store.event_codec import StoredEvent, decode_event
from orchestrator.vocab import TERMINAL_EVENTS

EVENT_STREAM = "text/event-stream"
_BLOCK_MS = 2000
_BATCH = 500
_RETRY_MS = 1000


def wants_stream(request: web.Request) -> bool:
    """True when the client asked for ``text/event-stream``."""
    return EVENT_STREAM in request.headers.get("Accept", "")


def event_view(run_id: str, ev: StoredEvent) -> dict[str, Any]:
    """A stored event as the API's ``RunEvent``."""
    out: dict[str, Any] = {
        "id": ev.id,
        "timestamp": iso(ev.at_ms),
        "type": ev.type,
        "runId": run_id,
        "data": ev.data,
    }
    if ev.node is not None:
        out["nodeId"] = ev.node
    return out


def frame(data: Any, *, event_id: str | None = None, event: str | None = None) -> bytes:
    """One SSE frame (JSON data on one line, so no escaping is needed)."""
    head = b""
    if event_id is not None:
        head += b"id: " + event_id.encode() + b"\n"
    if event is not None:
        head += b"event: " + event.encode() + b"\n"
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


async def stream_events(
    request: web.Request, st: ApiState, run_id: str, after: str | None
) -> web.StreamResponse:
    """Serve the run's events as SSE until its terminal event or the client leaves."""
    run = await st.service.get(run_id)  # NotFound before any byte is sent: a JSON 404
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": EVENT_STREAM,
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
        },
    )
    await response.prepare(request)
    redis = st.conn.redis
    key = st.keys.run_events(run_id)
    last = after or "0-0"
    terminal = run.terminal
    status: str = run.status
    finished = False
    try:
        await response.write(f"retry: {_RETRY_MS}\n\n".encode())
        while not st.closing.is_set():
            reply: Any = await redis.xread(
                {key: last}, count=_BATCH, block=None if terminal else _BLOCK_MS
            )
            entries = reply[0][1] if reply else []
            ended = False
            for entry_id, fields in entries:
                ev = decode_event(entry_id, fields)
                last = ev.id
                await response.write(frame(event_view(run_id, ev), event_id=ev.id))
                if ev.type in TERMINAL_EVENTS:
                    ended = True
                    status = ev.type.removeprefix("run_")
            if ended or (terminal and not entries):
                finished = True
                break
            if entries:
                continue
            await response.write(b": keep-alive\n\n")
            try:
                current = await st.service.get(run_id)
            except NotFound:
                status, finished = "expired", True
                break
            terminal, status = current.terminal, current.status
        # Only a run that ended gets the final frame: when the server is shutting down the
        # stream just closes, and clients reconnect with Last-Event-ID to another replica.
        if finished:
            await response.write(frame({"runId": run_id, "status": status}, event="end"))
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away; nothing to clean up but the response
    return response
