"""A map: runs its handler once per element of a list computed when the node starts.

Each element is an *item*, an attempt of its own: it has a key (``<node>[<index>]``,
also its job's ``node``), a token, retries with backoff, and is applied exactly once
like a task's attempt (:func:`orchestrator.engine.transitions` routes item messages
here).  Items live in ``RunState.items``, one entry each, so settling one rewrites only
that entry and the map's progress (``total``, ``done``, ``failed``, ``active``,
``next``) in the run hash.  At most ``max_parallel`` items are active (queued, running
or backing off) at once; they are dispatched in index order.

An item's input is ``{"item": ..., "index": i}`` over the map's input, without the
top-level key the list was read from (``items: output.records`` leaves ``records``
out): a 10,000-item map must not send its list 10,000 times.  The map's output is
``{"results": [...], "failed": [{"index", "error"}]}`` in item order (a failed item's
result is null); more failures than ``tolerate_failures`` fail the node at once, and
the items still active are cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from orchestrator.engine import saga
from orchestrator.engine.commands import Dispatch, PostInbox, StartTimer
from orchestrator.engine.kinds.base import Kind
from orchestrator.engine.retry import delay_s, should_retry
from orchestrator.engine.state import ANCESTRY, NodeState, item_key
from orchestrator.engine.tx import Tx
from orchestrator.keys import lane_for_priority
from orchestrator.protocol import InboxMessage, Job
from orchestrator.spec.expressions import ExpressionError, evaluate
from orchestrator.spec.model import MapNode
from orchestrator.vocab import IN_FLIGHT, EventType, NodeStatus, RunStatus


def _node(tx: Tx, node_id: str) -> MapNode:
    node = tx.g.nodes[node_id]
    assert isinstance(node, MapNode)
    return node


def _list_key(node: MapNode) -> str | None:
    """``records`` for ``items: output.records``: the key left out of each item's input."""
    head, _, rest = node.items.strip().partition(".")
    return rest if head == "output" and rest.isidentifier() else None


class Map(Kind):
    """Fans out when ready; completes when every item has settled."""

    # -- the node ------------------------------------------------------------------
    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        node = _node(tx, node_id)
        kept = tx.nodes[node_id].progress
        tx.set(node_id, status=NodeStatus.RUNNING, input=data, start_ms=tx.now, attempts=1)
        tx.emit(EventType.NODE_STARTED, node_id, attempt=1)
        if kept is not None:  # a retry of the run kept the items that had completed
            total = kept["total"]
        else:
            try:
                values = evaluate(node.items, **tx.expression_scope(data))
            except ExpressionError as exc:
                saga.fail_node(tx, node_id, f"items {node.items!r} failed: {exc}")
                return
            if not isinstance(values, list):
                got = "null" if values is None else type(values).__name__
                saga.fail_node(tx, node_id, f"items {node.items!r} gave {got}, not a list")
                return
            limit = tx.cfg.max_map_items if node.max_items is None else node.max_items
            limit = min(limit, tx.cfg.max_map_items)
            if len(values) > limit:
                saga.fail_node(
                    tx,
                    node_id,
                    f"items {node.items!r} gave {len(values)} items; the map allows at most "
                    f"{limit} (max_items)",
                )
                return
            total = len(values)
            for index, value in enumerate(values):
                fresh = NodeState(input={"item": value, "index": index})
                tx.set_item(item_key(node_id, index), fresh)
        done = 0
        if kept is not None:
            completed = NodeStatus.COMPLETED
            done = sum(tx.items[item_key(node_id, i)].status == completed for i in range(total))
        progress = {"total": total, "done": done, "failed": 0, "active": 0, "next": 0}
        tx.set(node_id, progress=progress)
        self._fill(tx, node_id)
        self._maybe_finish(tx, node_id)

    def reset(self, tx: Tx, node_id: str, *, keep: bool) -> None:
        """A retry of the run resets the node: keep its completed items (only the others
        run again) unless ``keep`` is false (its input may change: all run again)."""
        old = tx.nodes[node_id].progress
        tx.nodes[node_id] = NodeState()
        if not keep or old is None:
            return
        total = old["total"]
        for index in range(total):
            key = item_key(node_id, index)
            item = tx.items[key]
            if item.status != NodeStatus.COMPLETED:
                tx.set_item(key, NodeState(input=item.input))
        tx.nodes[node_id] = NodeState(progress={"total": total})

    # -- its items -----------------------------------------------------------------
    def _limit(self, tx: Tx, node: MapNode) -> int:
        """Its own ``max_parallel`` (never past the deployment's), else the run's limit."""
        own = node.max_parallel
        return tx.max_parallel if own is None else min(own, tx.cfg.max_parallel)

    def _fill(self, tx: Tx, node_id: str) -> None:
        """Dispatch items in index order while fewer than ``max_parallel`` are active."""
        node = _node(tx, node_id)
        st = tx.nodes[node_id]
        if st.status != NodeStatus.RUNNING or tx.status != RunStatus.RUNNING:
            return
        p = dict(st.progress or {})
        limit = self._limit(tx, node)
        while p["active"] < limit and p["next"] < p["total"]:
            index = p["next"]
            p["next"] = index + 1
            if tx.items[item_key(node_id, index)].status == NodeStatus.PENDING:
                self._dispatch(tx, node, index)
                p["active"] += 1
        tx.set(node_id, progress=p)

    def _dispatch(self, tx: Tx, node: MapNode, index: int) -> None:
        key = item_key(node.id, index)
        item = tx.items[key]
        attempt = item.attempts + 1
        token = tx.token(attempt)
        payload = dict(tx.nodes[node.id].input or {})
        list_key = _list_key(node)
        if list_key is not None:
            payload.pop(list_key, None)
        payload.update(item.input or {})
        priority = tx.base.priority if node.priority is None else node.priority
        tx.set_item(key, status=NodeStatus.QUEUED, attempts=attempt, token=token, due_ms=None)
        if node.workflow is not None:
            self._ask_child(tx, node, key, token, payload, priority)
            return
        assert node.handler is not None
        job = Job(
            run=tx.base.run_id,
            node=key,
            attempt=attempt,
            token=token,
            handler=node.handler,
            kind="task",
            workflow=tx.base.workflow_id,
            input=payload,
            params=dict(tx.base.params),
            timeout_s=tx.cfg.timeout_for(node),
            logical_time=tx.base.meta.get("scheduledTime"),
        )
        tx.commands.append(Dispatch(job=job, lane=lane_for_priority(priority)))

    def _ask_child(
        self,
        tx: Tx,
        node: MapNode,
        key: str,
        token: str,
        payload: dict[str, Any],
        priority: int,
    ) -> None:
        """Ask for the item's sub-workflow run (see ``kinds/subworkflow.py``)."""
        params: dict[str, Any] = {"item": payload.get("item"), "index": payload.get("index")}
        if node.params is not None:
            scope = tx.expression_scope(payload)
            try:
                params = {name: evaluate(text, **scope) for name, text in node.params.items()}
            except ExpressionError as exc:
                # The item fails (it does not retry: the same input gives the same error).
                tx.set_item(key, attempts=tx.cfg.rule_for(tx.g.spec, node).max_attempts)
                tx.commands.append(
                    PostInbox(InboxMessage("failed", tx.base.run_id, tx.now, node=key,
                                           token=token, error=f"params failed: {exc}"))
                )  # fmt: skip
                return
        request = {
            "workflow": node.workflow,
            "version": node.version,
            "params": params,
            "priority": priority,
            "ancestry": [*tx.base.meta.get(ANCESTRY, []), tx.base.workflow_id],
        }
        message = InboxMessage("child", tx.base.run_id, tx.now, node=key, token=token)
        tx.commands.append(PostInbox(replace(message, output=request)))

    def item_child_started(self, tx: Tx, key: str, child: str) -> None:
        """The item's sub-workflow run exists (the caller checked the token)."""
        tx.set_item(key, status=NodeStatus.RUNNING, start_ms=tx.now, child=child)

    def _count(self, tx: Tx, node_id: str, **delta: int) -> dict[str, int]:
        p = dict(tx.nodes[node_id].progress or {})
        for name, by in delta.items():
            p[name] = p.get(name, 0) + by
        tx.set(node_id, progress=p)
        return p

    def item_started(self, tx: Tx, key: str, at_ms: int, worker: str | None) -> None:
        """A worker began the item's live attempt (the caller checked the token)."""
        if tx.items[key].status == NodeStatus.QUEUED:
            tx.set_item(key, status=NodeStatus.RUNNING, start_ms=at_ms, worker=worker)

    def item_succeeded(self, tx: Tx, node_id: str, index: int, output: Mapping[str, Any]) -> None:
        """The item's live attempt returned ``output``."""
        key = item_key(node_id, index)
        item = tx.set_item(key, status=NodeStatus.COMPLETED, output=dict(output), end_ms=tx.now)
        p = self._count(tx, node_id, done=1, active=-1)
        tx.emit(EventType.ITEM_COMPLETED, node_id, index=index, attempt=item.attempts, **_counts(p))
        self._settled(tx, node_id)

    def item_failed(
        self, tx: Tx, node_id: str, index: int, error: str, *, timed_out: bool, final: bool = False
    ) -> None:
        """The item's live attempt failed: back off and retry, or settle it as failed."""
        node = _node(tx, node_id)
        key = item_key(node_id, index)
        item = tx.items[key]
        running = tx.status == RunStatus.RUNNING and tx.nodes[node_id].status == NodeStatus.RUNNING
        rule = tx.cfg.rule_for(tx.g.spec, node)
        if running and not final and should_retry(rule, item.attempts):
            wait_s = delay_s(rule, item.attempts, seed=f"{tx.base.run_id}:{key}:{tx.epoch}")
            due = tx.now + int(wait_s * 1000)
            tx.set_item(key, status=NodeStatus.WAITING, last_error=error, due_ms=due, worker=None)
            tx.commands.append(StartTimer(node=key, token=item.token or "", due_ms=due))
            tx.emit(
                EventType.ITEM_RETRYING,
                node_id,
                index=index,
                attempt=item.attempts,
                error=error,
                delayMs=due - tx.now,
                timeout=timed_out,
            )
            return
        tx.set_item(key, status=NodeStatus.FAILED, last_error=error, end_ms=tx.now, due_ms=None)
        p = self._count(tx, node_id, failed=1, active=-1)
        tx.emit(
            EventType.ITEM_FAILED,
            node_id,
            index=index,
            attempt=item.attempts,
            error=error,
            **_counts(p),
        )
        if running and p["failed"] > node.tolerate_failures:
            tx.cancel_items(node_id)
            saga.fail_node(
                tx,
                node_id,
                f"{p['failed']} of {p['total']} items failed, more than tolerate_failures "
                f"({node.tolerate_failures}); item {index}: {error}",
            )
            return
        self._settled(tx, node_id)

    def item_timer(self, tx: Tx, node_id: str, index: int) -> None:
        """The item's retry backoff is over: its next attempt."""
        if tx.status == RunStatus.RUNNING and tx.nodes[node_id].status == NodeStatus.RUNNING:
            self._dispatch(tx, _node(tx, node_id), index)

    def _settled(self, tx: Tx, node_id: str) -> None:
        """An item settled: dispatch the next ones, or finish the map."""
        if tx.status == RunStatus.RUNNING and tx.nodes[node_id].status == NodeStatus.RUNNING:
            self._fill(tx, node_id)
            self._maybe_finish(tx, node_id)
            return
        # The run failed or was cancelled meanwhile: the map ends once no item is out.
        total = (tx.nodes[node_id].progress or {}).get("total", 0)
        if tx.nodes[node_id].status == NodeStatus.RUNNING and not any(
            tx.items[item_key(node_id, i)].status in IN_FLIGHT for i in range(total)
        ):
            tx.set(node_id, status=NodeStatus.CANCELLED, end_ms=tx.now)
            saga.maybe_compensate(tx)

    def _maybe_finish(self, tx: Tx, node_id: str) -> None:
        st = tx.nodes[node_id]
        p = st.progress or {}
        if st.status != NodeStatus.RUNNING or p["done"] + p["failed"] < p["total"]:
            return
        results: list[Any] = []
        failed: list[dict[str, Any]] = []
        for index in range(p["total"]):
            item = tx.items[item_key(node_id, index)]
            if item.status == NodeStatus.COMPLETED:
                results.append(dict(item.output or {}))
            else:
                results.append(None)
                failed.append({"index": index, "error": item.last_error})
        tx.complete(node_id, {"results": results, "failed": failed})
        tx.fill_slots()
        tx.check_done()


def _counts(p: Mapping[str, int]) -> dict[str, int]:
    return {"done": p["done"], "failed": p["failed"], "total": p["total"]}
