"""Messages that cross Redis between the engine, the queue and the workers.

A *job* is one attempt of a runnable node (task or compensation), written to a
handler's stream ``q:<lane>:<handler>``.  An *inbox message* is what workers,
timers and the API tell the orchestrators about a run, written to ``inbox``.
Both travel as one stream field ``d`` holding compact JSON (orjson).

``token`` identifies one attempt's lease: the engine ignores any message whose
token is not the node's current one, which is what makes a redelivered or late
result harmless (applied exactly once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

JobKind = Literal["task", "compensation"]
InboxType = Literal[
    "started", "succeeded", "failed", "timer", "deadline", "wake", "child", "cancel"
]
"""``child``: start the child run a sub-workflow node asks for (``output`` holds the
request); ``cancel``: cancel the run (its parent was cancelled; ``error`` says why)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One attempt of a node, as a worker receives it."""

    run: str
    node: str
    attempt: int
    token: str
    handler: str
    kind: JobKind = "task"
    workflow: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 300.0
    logical_time: str | None = None
    """A scheduled run's fire time (ISO 8601), else None."""
    run_as: str | None = None
    """The user whose handler permissions the run executes with (checked before each
    attempt), else None."""
    memory: int | None = None
    """Bytes of memory the node requests (``resources.memory``), else None."""
    cpu: float | None = None
    """CPU cores the node requests (``resources.cpu``), else None."""

    def encode(self) -> bytes:
        """Compact JSON for the stream field ``d``."""
        extra: dict[str, Any] = {"lt": self.logical_time} if self.logical_time else {}
        if self.run_as:
            extra["as"] = self.run_as
        if self.memory:
            extra["mem"] = self.memory
        if self.cpu:
            extra["cpu"] = self.cpu
        return orjson.dumps(
            {
                **extra,
                "run": self.run,
                "node": self.node,
                "attempt": self.attempt,
                "token": self.token,
                "handler": self.handler,
                "kind": self.kind,
                "wf": self.workflow,
                "input": self.input,
                "params": self.params,
                "timeout_s": self.timeout_s,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> Job:
        """Parse what :meth:`encode` wrote; ``ValueError`` on garbage."""
        d = orjson.loads(raw)
        if not isinstance(d, dict):
            raise ValueError("job payload is not an object")
        return cls(
            run=str(d["run"]),
            node=str(d["node"]),
            attempt=int(d["attempt"]),
            token=str(d["token"]),
            handler=str(d["handler"]),
            kind=d.get("kind", "task"),
            workflow=str(d.get("wf", "")),
            input=dict(d.get("input") or {}),
            params=dict(d.get("params") or {}),
            timeout_s=float(d.get("timeout_s", 300.0)),
            logical_time=str(d["lt"]) if d.get("lt") else None,
            run_as=str(d["as"]) if d.get("as") else None,
            memory=int(d["mem"]) if d.get("mem") else None,
            cpu=float(d["cpu"]) if d.get("cpu") else None,
        )


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """A fact about a run for the orchestrators to apply.

    ``started``/``succeeded``/``failed`` come from workers (``token`` set),
    ``timer`` from a delay node's or a retry's timer, ``deadline`` when a run
    exceeds its maximum duration, ``wake`` asks an orchestrator to re-examine a run.
    """

    type: InboxType
    run: str
    at_ms: int
    node: str | None = None
    token: str | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    timed_out: bool = False
    worker: str | None = None
    final: bool = False
    """A failure not to retry (the run's starter may no longer execute the handler)."""

    def encode(self) -> bytes:
        """Compact JSON for the stream field ``d``; empty fields are left out."""
        d: dict[str, Any] = {"t": self.type, "run": self.run, "at": self.at_ms}
        if self.node is not None:
            d["node"] = self.node
        if self.token is not None:
            d["token"] = self.token
        if self.output is not None:
            d["output"] = self.output
        if self.error is not None:
            d["error"] = self.error
        if self.timed_out:
            d["timeout"] = True
        if self.worker is not None:
            d["worker"] = self.worker
        if self.final:
            d["final"] = True
        return orjson.dumps(d)

    @classmethod
    def decode(cls, raw: bytes | str) -> InboxMessage:
        """Parse what :meth:`encode` wrote; ``ValueError`` on garbage."""
        d = orjson.loads(raw)
        if not isinstance(d, dict) or d.get("t") not in (
            "started",
            "succeeded",
            "failed",
            "timer",
            "deadline",
            "wake",
            "child",
            "cancel",
        ):
            raise ValueError("not an inbox message")
        output = d.get("output")
        return cls(
            type=d["t"],
            run=str(d["run"]),
            at_ms=int(d["at"]),
            node=d.get("node"),
            token=d.get("token"),
            output=output if isinstance(output, dict) else None,
            error=d.get("error"),
            timed_out=bool(d.get("timeout", False)),
            worker=d.get("worker"),
            final=bool(d.get("final", False)),
        )


def timer_entry(kind: Literal["job", "inbox"], target: str, payload: bytes, uid: str) -> bytes:
    """A member of the ``timers`` sorted set: where to deliver ``payload`` when due.

    ``kind`` "job" means XADD to the stream ``target`` (a queue key); "inbox" means
    XADD to the inbox stream ``target``.  ``uid`` keeps identical payloads distinct.
    """
    return orjson.dumps({"k": kind, "to": target, "u": uid, "d": payload.decode()})
