"""The client's calls for runs, their nodes, events, logs, map items and the insight
answers (replay, Gantt, diff, stats); mixed into ``DagqClient``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.client.base import PREFIX, Calls, q, run_path, wf
from orchestrator.vocab import TERMINAL_RUN, NodeStatus
from orchestrator.wire.base import Page
from orchestrator.wire.ops import Gantt, ReplayAt, ReplayFrames, RunDiff, WorkflowStats
from orchestrator.wire.runs import (
    EventList,
    MapItems,
    NodeList,
    NodeStatusView,
    RunEvent,
    RunList,
    RunLogs,
    WorkflowRun,
    WorkflowRunSummary,
)


@dataclass(frozen=True, slots=True)
class RunStatus:
    """The short answer to "how is this run doing?"."""

    run_id: str
    status: str
    nodes: dict[str, NodeStatus] = field(default_factory=dict)
    """Node id -> status."""
    error: str | None = None

    @property
    def is_complete(self) -> bool:
        """True once the run has ended (completed, failed, compensated or cancelled)."""
        return self.status in TERMINAL_RUN


class RunCalls(Calls):
    """Runs over the API."""

    async def start_run(
        self,
        workflow_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WorkflowRun:
        """Start a run; ParameterError for bad parameters, RateLimited/LimitExceeded at limits.

        With ``idempotency_key`` a repeated start returns the first run (Conflict when the
        parameters differ)."""
        body: dict[str, Any] = {"parameters": dict(params or {})}
        if priority is not None:
            body["priority"] = priority
        if tags:
            body["tags"] = list(tags)
        if metadata:
            body["metadata"] = dict(metadata)
        if version is not None:
            body["version"] = version
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        path = f"{wf(workflow_id)}/runs"
        return await self._as(WorkflowRun, "POST", path, body=body, headers=headers)

    async def get_run(self, run_id: str) -> WorkflowRun:
        """The run with every node."""
        return await self._as(WorkflowRun, "GET", run_path(run_id))

    async def run_logs(
        self,
        run_id: str,
        node_id: str | None = None,
        *,
        since: str | None = None,
        limit: int = 100,
    ) -> RunLogs:
        """What the run's handlers (or one node's) logged and printed, one entry per
        attempt (pass ``lastId`` back as ``since``)."""
        path = run_path(run_id) + (f"/nodes/{q(node_id)}/logs" if node_id else "/logs")
        return await self._as(RunLogs, "GET", path, params={"since": since, "limit": str(limit)})

    async def map_items(
        self,
        run_id: str,
        node_id: str,
        *,
        status: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> MapItems:
        """A page of a map node's items, ``status`` keeping those in it."""
        params = {"status": status, "offset": str(offset), "limit": str(limit)}
        path = f"{run_path(run_id)}/nodes/{q(node_id)}/items"
        return await self._as(MapItems, "GET", path, params=params)

    async def list_runs(
        self,
        workflow_id: str | None = None,
        *,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
        kind: str | None = None,
    ) -> Page[WorkflowRunSummary]:
        """Runs newest first: one workflow's, or all (``kind="job"``: plain jobs and chains)."""
        params = {"status": status, "limit": limit, "offset": offset, "kind": kind}
        path = f"{wf(workflow_id)}/runs" if workflow_id else f"{PREFIX}/runs"
        data = await self._as(RunList, "GET", path, params=params)
        return Page(data.runs, data.total, data.hasMore)

    async def cancel_run(self, run_id: str) -> None:
        """Cancel a pending or running run; Conflict when it has ended."""
        await self._call("DELETE", run_path(run_id))

    async def retry_run(
        self,
        run_id: str,
        *,
        from_node: str | None = None,
        only_node: bool = False,
        skip_nodes: Sequence[str] = (),
    ) -> WorkflowRun:
        """Run a failed or cancelled run again, from its failure or from ``from_node``;
        ``skip_nodes`` are not run again (their successors go on)."""
        body: dict[str, Any] = {"onlyNode": only_node}
        if from_node is not None:
            body["fromNode"] = from_node
        if skip_nodes:
            body["skipNodes"] = list(skip_nodes)
        return await self._as(WorkflowRun, "POST", f"{run_path(run_id)}/retry", body=body)

    async def get_run_status(self, run_id: str) -> RunStatus:
        """The run's status and each node's."""
        view = await self.get_run(run_id)
        nodes = {nid: n.status for nid, n in view.nodes.items()}
        return RunStatus(view.runId, view.status, nodes, view.error)

    async def get_node_status(self, run_id: str, node_id: str) -> NodeStatusView:
        """One node of a run."""
        return await self._as(NodeStatusView, "GET", f"{run_path(run_id)}/nodes/{q(node_id)}")

    async def list_nodes(self, run_id: str) -> list[NodeStatusView]:
        """Every node of a run."""
        return (await self._as(NodeList, "GET", f"{run_path(run_id)}/nodes")).nodes

    async def retry_node(self, run_id: str, node_id: str) -> NodeStatusView:
        """Rerun one node of a failed run (the run continues from it)."""
        path = f"{run_path(run_id)}/nodes/{q(node_id)}/retry"
        return await self._as(NodeStatusView, "POST", path)

    async def run_events(
        self, run_id: str, *, since: str | None = None, limit: int = 1000
    ) -> list[RunEvent]:
        """Events after ``since`` (an event id or an ISO time), oldest first."""
        params = {"since": since, "limit": limit}
        return (
            await self._as(EventList, "GET", f"{run_path(run_id)}/events", params=params)
        ).events

    # -- insight -------------------------------------------------------------------------
    async def replay_run(
        self, run_id: str, *, at_s: float | None = None, event: int | None = None
    ) -> ReplayAt:
        """Node statuses at ``at_s`` seconds after the start or after ``event`` events."""
        params = {"at": at_s, "event": event}
        return await self._as(ReplayAt, "GET", run_path(run_id) + "/replay", params=params)

    async def replay_steps(self, run_id: str) -> ReplayFrames:
        """The whole replay of a run, one step per recorded event."""
        return await self._as(ReplayFrames, "GET", run_path(run_id) + "/replay/steps")

    async def run_gantt(self, run_id: str) -> Gantt:
        """Node attempts on a time axis and the critical path."""
        return await self._as(Gantt, "GET", run_path(run_id) + "/gantt")

    async def diff_runs(self, run_a: str, run_b: str) -> RunDiff:
        """Run ``run_a`` compared with ``run_b``."""
        return await self._as(RunDiff, "GET", run_path(run_a) + "/diff", params={"other": run_b})

    async def workflow_stats(self, workflow_id: str, *, last: int = 20) -> WorkflowStats:
        """p50/p95 duration per node over the workflow's last finished runs."""
        return await self._as(
            WorkflowStats, "GET", wf(workflow_id) + "/stats", params={"last": last}
        )
