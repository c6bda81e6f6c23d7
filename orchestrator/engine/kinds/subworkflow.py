"""A sub-workflow: starts a run of another stored workflow and waits for it.

When ready, the node evaluates its ``params`` and posts a ``child`` request to its
run's inbox (``PostInbox``, written with the run): an orchestrator starts the child
(:mod:`orchestrator.service.children`) under an id derived from the attempt's token, in
the parent's shard, so a request delivered twice starts one child; a refusal (bad
parameters, unknown workflow, too deep, a workflow that reaches itself) comes back as
the attempt's failure.  The child records its parent in ``meta.parent``; when it ends,
its own write posts ``succeeded`` (its output plus ``run_id``) or ``failed`` to the
parent's inbox for the attempt's token.  Retries start a new child; cancelling the
parent cancels the child (:meth:`Tx.cancel_nodes`); a saga compensates a completed
sub-workflow node by its ``compensation`` like a task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from orchestrator.engine import saga
from orchestrator.engine.commands import PostInbox
from orchestrator.engine.kinds.runnable import Runnable
from orchestrator.engine.state import ANCESTRY, NodeState
from orchestrator.engine.tx import Tx
from orchestrator.protocol import InboxMessage, JobKind
from orchestrator.spec.expressions import ExpressionError, evaluate
from orchestrator.spec.model import SubworkflowNode
from orchestrator.vocab import EventType, NodeStatus, RunStatus


def _node(tx: Tx, node_id: str) -> SubworkflowNode:
    node = tx.g.nodes[node_id]
    assert isinstance(node, SubworkflowNode)
    return node


class Subworkflow(Runnable):
    """Retried like a task (each attempt a new child), but runs no handler itself."""

    runnable: ClassVar[bool] = False
    skippable: ClassVar[bool] = True
    job_kind: ClassVar[JobKind] = "task"

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        # Not held back by the run's parallelism: it runs no handler, its child's nodes do.
        tx.set(node_id, input=data)
        self.start_child(tx, node_id)

    def timer(self, tx: Tx, node_id: str, state: NodeState) -> None:
        """The retry backoff is over: ask for a new child."""
        if tx.status == RunStatus.RUNNING:
            self.start_child(tx, node_id)

    def start_child(self, tx: Tx, node_id: str) -> None:
        """The next attempt: evaluate the child's parameters and ask for the child."""
        node = _node(tx, node_id)
        st = tx.nodes[node_id]
        attempt = st.attempts + 1
        token = tx.token(attempt)
        tx.set(node_id, status=NodeStatus.QUEUED, attempts=attempt, token=token, due_ms=None)
        tx.set(node_id, child=None, worker=None)
        tx.emit(EventType.NODE_QUEUED, node_id, attempt=attempt, workflow=node.workflow)
        scope = tx.expression_scope(dict(st.input or {}))
        params: dict[str, Any] = {}
        for name, text in node.params.items():
            try:
                params[name] = evaluate(text, **scope)
            except ExpressionError as exc:
                saga.fail_node(tx, node_id, f"parameter {name} {text!r} failed: {exc}")
                return
        meta = tx.base.meta
        request = {
            "workflow": node.workflow,
            "version": node.version,
            "params": params,
            "priority": tx.base.priority if node.priority is None else node.priority,
            "ancestry": [*meta.get(ANCESTRY, []), tx.base.workflow_id],
        }
        message = InboxMessage(
            "child", tx.base.run_id, tx.now, node=node_id, token=token, output=request
        )
        tx.commands.append(PostInbox(message))

    def child_started(self, tx: Tx, node_id: str, child: str) -> None:
        """The child run exists (the caller checked the token)."""
        tx.set(node_id, status=NodeStatus.RUNNING, start_ms=tx.now, child=child)
        tx.emit(EventType.NODE_STARTED, node_id, attempt=tx.nodes[node_id].attempts, child=child)

    def succeeded(self, tx: Tx, node_id: str, output: Mapping[str, Any]) -> None:
        if tx.status == RunStatus.RUNNING:
            tx.complete(node_id, output)
            tx.fill_slots()
            tx.check_done()
            return
        tx.seq += 1
        tx.set(node_id, status=NodeStatus.COMPLETED, output=dict(output), end_ms=tx.now, seq=tx.seq)
        tx.emit(EventType.NODE_COMPLETED, node_id, attempt=tx.nodes[node_id].attempts, late=True)
        saga.maybe_compensate(tx)

    def failed(self, tx: Tx, node_id: str, error: str, attempt: int) -> None:
        if tx.status == RunStatus.RUNNING:
            saga.fail_node(tx, node_id, error)
            return
        tx.set(node_id, status=NodeStatus.FAILED, last_error=error, end_ms=tx.now)
        tx.emit(EventType.NODE_FAILED, node_id, error=error, attempt=attempt, late=True)
        saga.maybe_compensate(tx)
