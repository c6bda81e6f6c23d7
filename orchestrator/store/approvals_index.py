"""The approvals index: each shard's approvals waiting for a decision, kept by the run writes.

``{s<k>}:approvals`` (see :meth:`orchestrator.keys.Keys.approvals`) holds ``<run id> <node
id>`` scored by request time.  :class:`orchestrator.store.runs.RunStore` changes it in the
same Lua step as the run's state (the key shares the run's hash tag): a member is added when
the engine emits ``approval_requested`` for a node that waits, and removed when a waiting node
stops waiting (decided, timed out, cancelled) or its run ends.  ``GET /approvals`` reads the
runs it names instead of every active run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.engine.state import RunState
from orchestrator.vocab import NodeStatus


def approval_member(run_id: str, node_id: str) -> str:
    """A waiting approval in the index: ``<run id> <node id>``."""
    return f"{run_id} {node_id}"


def run_of(member: bytes | str) -> str:
    """The run id of an index member."""
    text = member.decode() if isinstance(member, bytes) else member
    return text.split(" ", 1)[0]


def approvals_changed(
    old: RunState | None,
    new: RunState,
    requested: Sequence[tuple[int, str]],
    *,
    finished: bool,
) -> tuple[list[Any], list[str]]:
    """The index's change in one write: ``(score, member)`` pairs, flattened, of the
    approvals requested now and still waiting; and the members to remove: each node that
    was waiting and is not any more, or every waiting node of a run that ends.

    Which waiting node is an approval the store cannot tell (the graph says so), so a
    delay or a retry backoff that stops waiting removes a member that is not there, which
    is harmless; additions come only from the engine's ``approval_requested``."""
    waiting: list[Any] = []
    if not finished:
        for at_ms, node_id in requested:
            st = new.nodes.get(node_id)
            if st is not None and st.status == NodeStatus.WAITING:
                waiting += [at_ms, approval_member(new.run_id, node_id)]
    done: list[str] = []
    if old is not None and (finished or old.nodes is not new.nodes):
        for node_id, before in old.nodes.items():
            if before.status != NodeStatus.WAITING:
                continue
            after = new.nodes.get(node_id)
            if finished or after is None or after.status != NodeStatus.WAITING:
                done.append(approval_member(new.run_id, node_id))
    return waiting, done
