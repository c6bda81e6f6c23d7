"""Run state: immutable values the pure transitions map to new values.

Times are integer milliseconds since the epoch (UTC) inside the engine; the API
view (:func:`orchestrator.engine.codec.run_view`) renders them as ISO 8601.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from orchestrator.vocab import TERMINAL_RUN, NodeStatus, RunStatus

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node of one run."""

    status: NodeStatus = NodeStatus.PENDING
    attempts: int = 0
    """Attempts started so far (1-based count)."""
    token: str | None = None
    """Lease token of the current attempt; results carrying another token are ignored."""
    start_ms: int | None = None
    end_ms: int | None = None
    due_ms: int | None = None
    """When a waiting node (delay or retry backoff) is due."""
    input: Mapping[str, Any] | None = None
    output: Mapping[str, Any] | None = None
    last_error: str | None = None
    taken: tuple[str, ...] | None = None
    """Ids of the outgoing edges a completed gateway chose (None: all edges)."""
    seq: int | None = None
    """Completion order within the run; sagas compensate in reverse of it."""
    worker: str | None = None
    """Worker running the current attempt."""
    child: str | None = None
    """The run a sub-workflow node's current attempt started."""
    progress: Mapping[str, int] | None = None
    """A map node's items: ``total``, ``done``, ``failed``, ``active`` (queued, running or
    backing off) and ``next`` (the first index not yet dispatched)."""
    decisions: tuple[Mapping[str, Any], ...] = ()
    """An approval's decisions so far: ``{by, role, approved, comment, at}`` each."""


PARENT = "parent"
"""``meta`` key of a child run: ``{"runId", "nodeId", "token"}`` of the sub-workflow node
(and attempt) that started it."""
ANCESTRY = "ancestry"
"""``meta`` key of a child run: the workflow ids of its parents, outermost first."""
DEPTH = "depth"
"""``meta`` key of a child run: how deep it nests (its parent's depth + 1)."""


def item_key(node_id: str, index: int) -> str:
    """The key of a map item (also its job's ``node``): ``per_record[17]``."""
    return f"{node_id}[{index}]"


def split_item(key: str) -> tuple[str, int] | None:
    """``(map node id, index)`` of an item key; None for a node id (ids have no ``[``)."""
    if not key.endswith("]") or "[" not in key:
        return None
    node_id, _, index = key[:-1].partition("[")
    return (node_id, int(index)) if index.isdigit() else None


@dataclass(frozen=True, slots=True)
class RunState:
    """One run of one pinned workflow version."""

    run_id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    start_ms: int
    nodes: Mapping[str, NodeState]
    params: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)
    end_ms: int | None = None
    error: str | None = None
    error_node: str | None = None
    deadline_ms: int | None = None
    epoch: int = 0
    """Incremented by every retry of the run; part of each attempt's token."""
    seq: int = 0
    """Completions so far (source of ``NodeState.seq``)."""
    ready: tuple[str, ...] = ()
    """Runnable nodes waiting for a free slot under the run's parallelism limit."""
    priority: int = 5
    compensation_queue: tuple[str, ...] = ()
    """Tasks still to compensate, next first (saga, reverse completion order)."""
    compensation_started: bool = False
    """The saga built its compensation queue (it is built once, when nothing is in flight)."""
    compensation_failed: bool = False
    """A compensation failed after its retries: the saga ends ``failed``."""
    output: Mapping[str, Any] | None = None
    """The run's output: merged outputs of its completed sink nodes."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Free-form run metadata (tags, who started it, retry history)."""
    items: Mapping[str, NodeState] = field(default_factory=dict)
    """Map nodes' items, keyed ``<node id>[<index>]`` (:func:`item_key`): each an attempt
    of its own, stored apart so that settling one rewrites only its own entry."""
    signals: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    """Signals that arrived before a node waited for them: name -> payloads, oldest first."""

    @property
    def terminal(self) -> bool:
        """The run has ended (completed, failed, compensated or cancelled)."""
        return self.status in TERMINAL_RUN

    def node(self, node_id: str) -> NodeState:
        """The state of ``node_id`` (a fresh pending state for unknown ids)."""
        return self.nodes.get(node_id) or NodeState()
