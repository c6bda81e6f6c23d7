"""Fixed API answers for the snapshot tests of the Monitor, Queues and Admin screens.

Snapshots must not show clocks or random ids, so these screens are fed a
:class:`CannedClient`: a real :class:`DagqClient` whose read calls answer with the
data below instead of going to the network.  The data is the API's own shape —
:func:`check_shapes` validates every answer against the API's response models, so a
change of the API breaks these fixtures loudly instead of letting the snapshots lie.
The run is the seed's Example 2 failing at ``ship_order`` and compensated.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Any

from pydantic import BaseModel

from orchestrator.api import admin_schemas, approval_schemas, schemas
from orchestrator.client import DagqClient, Page
from orchestrator.spec.export import spec_to_data
from orchestrator.spec.loader import load_file
from orchestrator.wire.ops import (
    AuditEntry,
    DeadLetter,
    PolicyStatus,
    Queues,
    UserInfo,
    WaitingApprovalView,
)
from orchestrator.wire.runs import (
    NodeStatusView,
    RunEvent,
    RunLogs,
    VersionRecord,
    WhoAmI,
    WorkflowRun,
    WorkflowRunSummary,
)
from tests.tui.ops_fixtures import EXAMPLES

DAY = "2026-01-15T"
RUN = "run-0000000saga0001"
BASE_MS = 1768469400000  # 2026-01-15T09:30:00Z


def at(seconds: float) -> str:
    """``2026-01-15T09:30:SS.mmmZ`` for ``seconds`` after 09:30:00."""
    whole, ms = divmod(round(seconds * 1000), 1000)
    minutes, sec = divmod(whole, 60)
    return f"{DAY}09:{30 + minutes:02d}:{sec:02d}.{ms:03d}Z"


RESERVED = {"reservation_id": "res-0001", "items": 3}
CHARGED = {"payment_id": "pay-0001", "amount": 42.0}
ERROR = "carrier unavailable (fail_at=ship_order)"

RUN_VIEW: dict[str, Any] = {
    "id": RUN,
    "runId": RUN,
    "workflowId": "order-processing",
    "workflowVersion": 1,
    "status": "compensated",
    "startTime": at(0),
    "endTime": at(3.2),
    "duration": 3200,
    "error": f"node ship_order failed: {ERROR}",
    "errorNode": "ship_order",
    "priority": 5,
    "parameters": {"fail_at": "ship_order"},
    "context": {"parameters": {"fail_at": "ship_order"}, "variables": {}},
    "nodes": {
        "reserve_inventory": {
            "nodeId": "reserve_inventory", "status": "compensated", "attempts": 1,
            "startTime": at(0.01), "endTime": at(0.12), "duration": 110,
            "worker": "worker-a", "input": {}, "output": RESERVED,
        },
        "charge_payment": {
            "nodeId": "charge_payment", "status": "compensated", "attempts": 1,
            "startTime": at(0.13), "endTime": at(0.48), "duration": 350,
            "worker": "worker-b", "input": RESERVED, "output": CHARGED,
        },
        "ship_order": {
            "nodeId": "ship_order", "status": "failed", "attempts": 3,
            "startTime": at(2.5), "endTime": at(2.9), "duration": 400,
            "lastError": ERROR, "input": {**RESERVED, **CHARGED},
        },
        "release_inventory": {
            "nodeId": "release_inventory", "status": "completed", "attempts": 1,
            "startTime": at(3.03), "endTime": at(3.09), "duration": 60,
            "worker": "worker-a", "input": RESERVED, "output": {"released": "res-0001"},
        },
        "refund_payment": {
            "nodeId": "refund_payment", "status": "completed", "attempts": 1,
            "startTime": at(2.95), "endTime": at(3.01), "duration": 60,
            "worker": "worker-b", "input": CHARGED,
            "output": {"refunded": "pay-0001", "amount": 42.0},
        },
        "cancel_shipment": {"nodeId": "cancel_shipment", "status": "skipped", "attempts": 0},
    },
}  # fmt: skip


def _events() -> list[dict[str, Any]]:
    rows: list[tuple[float, str, str | None, dict[str, Any]]] = [
        (0.0, "run_started", None, {"workflowId": "order-processing", "workflowVersion": 1}),
        (0.0, "node_queued", "reserve_inventory", {"attempt": 1, "handler": "reserveInventory"}),
        (0.01, "node_started", "reserve_inventory", {"attempt": 1, "worker": "worker-a"}),
        (0.12, "node_completed", "reserve_inventory", {"attempt": 1}),
        (0.12, "node_queued", "charge_payment", {"attempt": 1, "handler": "chargePayment"}),
        (0.13, "node_started", "charge_payment", {"attempt": 1, "worker": "worker-b"}),
        (0.48, "node_completed", "charge_payment", {"attempt": 1}),
        (0.48, "node_queued", "ship_order", {"attempt": 1, "handler": "shipOrder"}),
        (0.5, "node_started", "ship_order", {"attempt": 1, "worker": "worker-a"}),
        (0.9, "node_retrying", "ship_order", {"attempt": 1, "error": ERROR, "delayMs": 1000}),
        (1.9, "node_queued", "ship_order", {"attempt": 2, "handler": "shipOrder"}),
        (1.9, "node_started", "ship_order", {"attempt": 2, "worker": "worker-b"}),
        (2.3, "node_retrying", "ship_order", {"attempt": 2, "error": ERROR, "delayMs": 200}),
        (2.5, "node_queued", "ship_order", {"attempt": 3, "handler": "shipOrder"}),
        (2.5, "node_started", "ship_order", {"attempt": 3, "worker": "worker-a"}),
        (2.9, "node_failed", "ship_order", {"attempt": 3, "error": ERROR}),
        (2.9, "run_compensating", None, {"error": f"node ship_order failed: {ERROR}"}),
        (2.9, "compensation_started", None, {"nodes": ["charge_payment", "reserve_inventory"]}),
        (2.9, "node_compensating", "charge_payment", {"compensation": "refund_payment"}),
        (2.9, "node_queued", "refund_payment", {"attempt": 1, "handler": "refundPayment"}),
        (2.95, "node_started", "refund_payment", {"attempt": 1, "worker": "worker-b"}),
        (3.01, "node_completed", "refund_payment", {"attempt": 1}),
        (3.01, "node_compensated", "charge_payment", {"compensation": "refund_payment"}),
        (3.01, "node_compensating", "reserve_inventory", {"compensation": "release_inventory"}),
        (3.01, "node_queued", "release_inventory", {"attempt": 1, "handler": "releaseInventory"}),
        (3.03, "node_started", "release_inventory", {"attempt": 1, "worker": "worker-a"}),
        (3.09, "node_completed", "release_inventory", {"attempt": 1}),
        (3.09, "node_compensated", "reserve_inventory", {"compensation": "release_inventory"}),
        (3.2, "node_skipped", "cancel_shipment", {"reason": "not needed: nothing to undo"}),
        (3.2, "run_compensated", None, {"error": f"node ship_order failed: {ERROR}"}),
    ]
    events = []
    for n, (t, kind, node, data) in enumerate(rows):
        event: dict[str, Any] = {
            "id": f"{BASE_MS + round(t * 1000)}-{n}",
            "timestamp": at(t),
            "type": kind,
            "runId": RUN,
            "data": data,
        }
        if node:
            event["nodeId"] = node
        events.append(event)
    return events


EVENTS = _events()

RUNS: list[dict[str, Any]] = [
    {key: RUN_VIEW[key] for key in (
        "id", "runId", "workflowId", "workflowVersion", "status", "startTime", "endTime",
        "duration", "error",
    )},
    {"id": "run-0000000pipe0002", "runId": "run-0000000pipe0002",
     "workflowId": "data-processing-pipeline", "workflowVersion": 2, "status": "completed",
     "startTime": f"{DAY}09:12:04.000Z", "endTime": f"{DAY}09:12:05.500Z", "duration": 1500},
    {"id": "run-0000000pipe0001", "runId": "run-0000000pipe0001",
     "workflowId": "data-processing-pipeline", "workflowVersion": 2, "status": "running",
     "startTime": f"{DAY}09:10:00.000Z"},
    {"id": "run-0000000flky0001", "runId": "run-0000000flky0001", "workflowId": "flaky",
     "workflowVersion": 1, "status": "failed", "startTime": f"{DAY}08:55:41.000Z",
     "endTime": f"{DAY}08:55:41.200Z", "duration": 200,
     "error": "node flaky failed: flaky step failed"},
]  # fmt: skip


def _version() -> dict[str, Any]:
    spec = spec_to_data(load_file(EXAMPLES / "order-processing.yaml"))
    return {
        "version": 1,
        "workflowId": "order-processing",
        "spec": spec,
        "createdAt": f"{DAY}08:00:00.000Z",
        "createdBy": "ada",
        "changeLog": "first version",
    }


VERSION = _version()

QUEUES: dict[str, Any] = {
    "handlers": {
        "shipOrder": {
            "high": {"length": 2, "pending": 1, "waiting": 1, "lag": 1},
            "normal": {"length": 5, "pending": 2, "waiting": 3, "lag": 3},
        },
        "chargePayment": {"normal": {"length": 0, "pending": 0, "waiting": 0, "lag": 0}},
        "nobodyOffersThis": {"low": {"length": 3, "pending": 0, "waiting": 3, "lag": 3}},
    },
    "shards": [{"shard": 0, "inbox": 4, "timers": 1, "dlq": 2}],
    "deadLetters": 2,
    "workers": [
        {"id": "worker-a", "handlers": ["chargePayment", "reserveInventory", "shipOrder"],
         "host": "node-1", "pid": 4101, "concurrency": 8, "startedMs": BASE_MS - 3_600_000,
         "lastSeenMs": BASE_MS + 61_000, "inFlight": 2, "processed": 1234,
         "capacity": {"memory": 4 * 1024**3, "cpu": 2.0},
         "reserved": {"memory": 1536 * 1024**2, "cpu": 1.5},
         "usage": {"rss": 310 * 1024**2, "cpu": 12.5, "children": 2}, "isolation": "process"},
        {"id": "worker-b", "handlers": ["refundPayment", "releaseInventory"],
         "host": "node-2", "pid": 977, "concurrency": 4, "startedMs": BASE_MS - 7_200_000,
         "lastSeenMs": BASE_MS + 60_500, "inFlight": 0, "processed": 87},
    ],
}  # fmt: skip

DEAD_LETTERS: list[dict[str, Any]] = [
    {"shard": 0, "id": f"{BASE_MS + 5000}-0", "stream": "dagq:{0}:q:low:nobodyOffersThis",
     "originalId": f"{BASE_MS + 1000}-0", "deliveries": 5, "atMs": BASE_MS + 5000,
     "reason": "delivered 5 times without an answer", "runId": "run-0000000stck0001",
     "nodeId": "wait_here", "handler": "nobodyOffersThis", "attempt": 1},
    {"shard": 0, "id": f"{BASE_MS + 9000}-0", "stream": "dagq:{0}:q:normal:shipOrder",
     "originalId": f"{BASE_MS + 2000}-0", "deliveries": 1, "atMs": BASE_MS + 9000,
     "reason": "malformed job payload: missing field 'run'", "runId": None, "nodeId": None,
     "handler": None, "attempt": None},
]  # fmt: skip

USERS: list[dict[str, Any]] = [
    {"name": "ada", "role": "workflow_admin", "policyRole": "workflow_admin",
     "keys": [{"id": "k1", "created": f"{DAY}08:00:00+00:00"}], "hasPassword": True,
     "disabled": False, "created": f"{DAY}08:00:00+00:00", "updated": f"{DAY}08:00:00+00:00"},
    {"name": "dee", "role": "workflow_designer", "policyRole": "workflow_designer",
     "keys": [{"id": "k2", "created": f"{DAY}08:01:00+00:00"}], "hasPassword": False,
     "disabled": False, "created": f"{DAY}08:01:00+00:00", "updated": f"{DAY}08:01:00+00:00"},
    {"name": "eve", "role": "workflow_operator", "policyRole": None, "keys": [],
     "hasPassword": True, "disabled": True, "created": f"{DAY}08:02:00+00:00",
     "updated": f"{DAY}09:00:00+00:00"},
    {"name": "otto", "role": "workflow_operator", "policyRole": "workflow_operator",
     "keys": [{"id": "k3", "created": f"{DAY}08:03:00+00:00"},
              {"id": "k4", "created": f"{DAY}08:04:00+00:00"}],
     "hasPassword": False, "disabled": False, "created": f"{DAY}08:03:00+00:00",
     "updated": f"{DAY}08:04:00+00:00"},
]  # fmt: skip

POLICY: dict[str, Any] = {
    "policiesDir": "/var/lib/dagq/policies",
    "loadedAt": f"{DAY}08:00:00Z",
    "lastReloadAt": f"{DAY}09:20:00Z",
    "lastError": "policy.csv line 31: a 'p' line needs 3 fields, got 2; kept the previous policy",
    "lastErrorAt": f"{DAY}09:20:00Z",
    "inError": True,
    "policyLines": 12,
    "roles": ["workflow_admin", "workflow_designer", "workflow_operator"],
    "usersFileError": None,
}


def _audit() -> list[dict[str, Any]]:
    rows = [
        ("ada", "workflow_admin", "startWorkflowRun", "/api/v1/workflows/order-processing/runs",
         "allowed", 201, None),
        ("otto", "workflow_operator", "createWorkflow", "/api/v1/workflows", "denied", 403,
         "workflow_operator lacks workflow:create"),
        ("otto", "workflow_operator", "cancelWorkflowRun", f"/api/v1/runs/{RUN}", "error", 409,
         "run is compensated; only a pending or running run can be cancelled"),
        ("dee", "workflow_designer", "updateWorkflow", "/api/v1/workflows/order-processing",
         "allowed", 200, None),
        ("dee", "workflow_designer", "createWorkflow", "/api/v1/workflows", "allowed", 201, None),
        ("ada", "workflow_admin", "requeueDeadLetters", "/api/v1/queues/dead-letters/requeue",
         "allowed", 200, None),
    ]  # fmt: skip
    out = []
    for n, (user, role, action, resource, outcome, status, detail) in enumerate(rows):
        out.append(
            {
                "id": f"{BASE_MS - n * 60_000}-0",
                "time": f"{DAY}09:{30 - n:02d}:00.000Z",
                "user": user,
                "role": role,
                "action": action,
                "resource": resource,
                "outcome": outcome,
                "requestId": f"req-{n:04d}",
                "status": status,
                "detail": detail,
            }
        )
    return out


AUDIT = _audit()

WHOAMI: dict[str, Any] = {
    "user": "ada",
    "role": "workflow_admin",
    "permissions": [
        "workflow:create", "workflow:read", "workflow:update", "workflow:delete",
        "workflow:validate", "workflow:execute", "run:read", "run:cancel", "system:configure",
    ],
    "auth": "key",
}  # fmt: skip


APPROVALS: list[dict[str, Any]] = [
    {
        "runId": "run-0000000refund001",
        "workflowId": "refund-approval",
        "workflowName": "Refund approval",
        "nodeId": "manager_ok",
        "message": "Refund 120 EUR to ada? Risk: low",
        "approvers": {"roles": ["workflow_operator", "workflow_admin"], "users": [],
                      "text": "role workflow_operator, workflow_admin"},
        "required": 2,
        "approvals": 1,
        "decisions": [{"by": "otto", "role": "workflow_operator", "approved": True,
                       "comment": "known customer", "at": at(30)}],
        "requestedTime": at(0),
        "dueTime": "2026-01-16T09:30:00.000Z",
        "onTimeout": "reject",
        "mayDecide": True,
        "decidedByYou": False,
    },
    {
        "runId": "run-0000000refund002",
        "workflowId": "refund-approval",
        "workflowName": "Refund approval",
        "nodeId": "manager_ok",
        "message": "Refund 900 EUR to bo? Risk: high",
        "approvers": {"roles": [], "users": [], "text": "anyone allowed run:approve"},
        "required": 1,
        "approvals": 0,
        "decisions": [],
        "requestedTime": at(95),
        "onTimeout": "reject",
        "mayDecide": True,
        "decidedByYou": False,
    },
]  # fmt: skip


def check_shapes() -> None:
    """Validate every canned answer with the API's response models (raises on drift)."""
    pairs: list[tuple[type[BaseModel], Any]] = [
        (schemas.WorkflowRun, RUN_VIEW),
        (schemas.RunList, {"runs": RUNS, "total": len(RUNS), "hasMore": False}),
        (schemas.EventList, {"events": EVENTS}),
        (schemas.WorkflowVersion, VERSION),
        (admin_schemas.Queues, QUEUES),
        (admin_schemas.DeadLetters, {"deadLetters": DEAD_LETTERS}),
        (admin_schemas.UserList, {"users": USERS}),
        (admin_schemas.PolicyStatus, POLICY),
        (admin_schemas.AuditList, {"entries": AUDIT}),
        (schemas.WhoAmI, WHOAMI),
        (approval_schemas.ApprovalList, {"approvals": APPROVALS, "total": len(APPROVALS)}),
    ]
    for model, data in pairs:
        model.model_validate(data)


class CannedClient(DagqClient):
    """A client that answers the read calls of the ops screens from the data above."""

    def __init__(self) -> None:
        super().__init__("http://canned.invalid", api_key="canned")

    async def whoami(self) -> WhoAmI:
        """The admin."""
        return WhoAmI.model_validate(WHOAMI)

    async def list_runs(
        self,
        workflow_id: str | None = None,
        *,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
        kind: str | None = None,
    ) -> Page[WorkflowRunSummary]:
        """The canned runs, filtered like the API does (none of them is a job)."""
        if kind == "job":
            return Page([], 0, False)
        runs = [r for r in RUNS if status is None or r["status"] == status]
        rows = [WorkflowRunSummary.model_validate(r) for r in runs[offset : offset + limit]]
        return Page(rows, len(runs), offset + limit < len(runs))

    async def get_run(self, run_id: str) -> WorkflowRun:
        """The compensated saga run (whatever run is asked for, its id kept)."""
        return WorkflowRun.model_validate(RUN_VIEW)

    async def get_node_status(self, run_id: str, node_id: str) -> NodeStatusView:
        """One node of the compensated saga run."""
        return NodeStatusView.model_validate(RUN_VIEW["nodes"][node_id])

    async def run_logs(
        self, run_id: str, node_id: str | None = None, *, since: str | None = None, limit: int = 100
    ) -> RunLogs:
        """No handler logs (the pictures show the node's details only)."""
        return RunLogs(runId=run_id, nodeId=node_id, attempts=[], lastId=None)

    async def get_version(self, workflow_id: str, version: int) -> VersionRecord:
        """Example 2."""
        return VersionRecord.model_validate(VERSION)

    async def run_events(
        self, run_id: str, *, since: str | None = None, limit: int = 1000
    ) -> list[RunEvent]:
        """The saga's events after ``since``."""
        ids = [e["id"] for e in EVENTS]
        start = ids.index(since) + 1 if since in ids else 0
        return [RunEvent.model_validate(e) for e in EVENTS[start : start + limit]]

    async def stream_run_events(
        self, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncGenerator[RunEvent, None]:
        """The run has ended: the stream has nothing more."""
        for event in await self.run_events(run_id, since=last_event_id):
            yield event

    async def queues(self) -> Queues:
        """Depths, shards and workers."""
        return Queues.model_validate(QUEUES)

    async def dead_letters(self, *, limit: int = 100, shard: int | None = None) -> list[DeadLetter]:
        """Two dead letters."""
        return [DeadLetter.model_validate(x) for x in DEAD_LETTERS[:limit]]

    async def users(self) -> list[UserInfo]:
        """Four users."""
        return [UserInfo.model_validate(u) for u in USERS]

    async def policy_status(self) -> PolicyStatus:
        """A policy whose last edit was refused."""
        return PolicyStatus.model_validate(POLICY)

    async def audit(
        self,
        *,
        limit: int = 100,
        user: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        before: str | None = None,
    ) -> list[AuditEntry]:
        """The canned entries, filtered like the API does."""
        rows: Iterable[dict[str, Any]] = AUDIT
        rows = [e for e in rows if (user is None or e["user"] == user)]
        rows = [e for e in rows if (outcome is None or e["outcome"] == outcome)]
        return [AuditEntry.model_validate(e) for e in rows[:limit]]


class CannedApprovals(CannedClient):
    """The canned client of a user who decides approvals, with two waiting."""

    async def whoami(self) -> WhoAmI:
        me = await super().whoami()
        return me.model_copy(update={"permissions": [*me.permissions, "run:approve", "run:signal"]})

    async def approvals(self, *, everyone: bool = False) -> list[WaitingApprovalView]:
        return [WaitingApprovalView.model_validate(a) for a in APPROVALS]
