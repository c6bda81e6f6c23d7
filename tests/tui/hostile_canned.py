"""API answers with a hostile payload in every string a user or a handler controls.

:class:`HostileClient` is a real :class:`DagqClient` whose calls answer with data
built around one payload (``[/]``, ``[@click=app.quit]Payroll[/]``, an ANSI escape, a
right-to-left override...).  Each field gets the payload behind its own short tag
(``wn:`` the workflow's name, ``le:`` a node's last error...), so a test can find every
field on the screen separately.  Fields the API's models cap (a workflow's name at 256
characters, a tag at 64) get the tagged payload cut to that cap.  Like the canned
answers of :mod:`tests.tui.ops_canned`, every answer is validated against the API's
response models (:meth:`HostileClient.check_shapes`): the screens are fed nothing the
real API could not send.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Any

from pydantic import BaseModel

from orchestrator.api import admin_schemas, approval_schemas, schemas
from orchestrator.client import DagqClient, Page
from orchestrator.errors import Conflict
from orchestrator.wire.ops import (
    AuditEntry,
    DeadLetter,
    HandlerInfo,
    PolicyStatus,
    Queues,
    UserInfo,
    WaitingApprovalView,
)
from orchestrator.wire.runs import (
    RunEvent,
    VersionRecord,
    WhoAmI,
    WorkflowRecord,
    WorkflowRun,
    WorkflowRunSummary,
    WorkflowSummary,
)

DAY = "2026-01-15T"
RUN = "run-hostile-0001"
BASE_MS = 1768469400000
WORKFLOW = "hostile"
PERMISSIONS = [
    "workflow:create", "workflow:read", "workflow:update", "workflow:delete",
    "workflow:validate", "workflow:execute", "run:read", "run:cancel", "system:configure",
]  # fmt: skip


class Hostile:
    """One payload, and the tagged value of every field built from it."""

    def __init__(self, payload: str) -> None:
        self.payload = payload

    def __call__(self, tag: str, limit: int | None = None) -> str:
        """``tag:payload``, cut to ``limit`` characters (a model's cap)."""
        value = f"{tag}:{self.payload}"
        return value[:limit] if limit is not None else value

    # -- workflows -------------------------------------------------------------------------
    def spec(self, version: int = 2) -> dict[str, Any]:
        """The workflow: version 2 has a third node (for the compare dialog).

        Two edges share a hostile id, so the problems panel quotes it.
        """
        t = self
        nodes = [
            {"id": "first", "type": "task", "handler": "fetchData", "name": t("nn", 256)},
            {"id": "second", "type": "task", "handler": "fetchData", "name": t("n2", 256)},
        ]
        if version >= 2:
            nodes.append({"id": "third", "type": "task", "handler": "fetchData"})
        return {
            "id": WORKFLOW,
            "name": t("wn", 256),
            "version": version,
            "description": t("wd", 4096),
            "tags": [t("tg", 64)],
            "nodes": nodes,
            "edges": [
                {"id": t("ei", 256), "source": "first", "target": "second", "label": t("el", 128)},
                {"id": t("ei", 256), "source": "second", "target": nodes[-1]["id"]},
            ],
            "parameters": {t("pn"): {"type": "string", "description": t("pd")}},
        }

    def workflow(self) -> dict[str, Any]:
        """``GET /workflows/hostile``."""
        return {
            **self.spec(),
            "status": "draft",
            "createdAt": f"{DAY}08:00:00Z",
            "updatedAt": f"{DAY}08:00:00Z",
            "createdBy": self("cb"),
            "updatedBy": self("ub"),
        }

    def summaries(self) -> list[dict[str, Any]]:
        """Two rows: the hostile workflow, and one whose id is hostile (the API's ids are
        plain, but the list must not trust that)."""
        row = {
            "id": WORKFLOW,
            "name": self("wn"),
            "description": self("wd"),
            "status": "draft",
            "version": 2,
            "nodeCount": 3,
            "edgeCount": 2,
            "tags": [self("tg", 64)],
            "createdAt": f"{DAY}08:00:00Z",
            "updatedAt": f"{DAY}08:00:00Z",
        }
        return [row, {**row, "id": self("wi"), "name": "plain", "tags": []}]

    def versions(self) -> list[dict[str, Any]]:
        """Versions 2 and 1, by a hostile author with a hostile change message."""
        return [self.version(2), self.version(1)]

    def version(self, number: int) -> dict[str, Any]:
        """One stored version."""
        return {
            "version": number,
            "workflowId": WORKFLOW,
            "spec": self.spec(number),
            "createdAt": f"{DAY}08:0{number}:00Z",
            "createdBy": self("vb"),
            "changeLog": self(f"v{number}"),
        }

    # -- runs ---------------------------------------------------------------------------
    def run_summary(self) -> dict[str, Any]:
        """The one run listed."""
        return {
            "id": RUN,
            "runId": RUN,
            "workflowId": self("rw"),
            "workflowVersion": 2,
            "status": "failed",
            "startTime": f"{DAY}09:30:00Z",
            "endTime": f"{DAY}09:30:02Z",
            "duration": 2000,
            "error": self("re"),
        }

    def run(self) -> dict[str, Any]:
        """The failed run: ``first`` failed with everything a handler can say."""
        t = self
        return {
            **self.run_summary(),
            "errorNode": "first",
            "priority": 5,
            "parameters": {t("pn"): t("pv")},
            "context": {},
            "nodes": {
                "first": {
                    "nodeId": "first", "status": "failed", "attempts": 2,
                    "nodeName": t("nm"), "startTime": f"{DAY}09:30:00Z",
                    "endTime": f"{DAY}09:30:01Z", "duration": 1000, "lastError": t("le"),
                    "worker": t("wk"), "input": {"in": t("ip")}, "output": {"out": t("op")},
                    "takenEdges": [t("te")],
                },
                "second": {
                    "nodeId": "second", "status": "queued", "attempts": 0,
                    "waitingFor": t("wf"),
                },
            },
        }  # fmt: skip

    def events(self) -> list[dict[str, Any]]:
        """Started, the failure (error, worker, handler), an unknown event type on an
        unknown node, and the run's failure."""
        t = self
        rows: list[tuple[str, str | None, dict[str, Any]]] = [
            ("run_started", None, {}),
            ("node_failed", "first", {"attempt": 2, "error": t("ev"), "worker": t("ew")}),
            (t("et"), t("en"), {}),
            ("run_failed", None, {"error": t("rf")}),
        ]
        out = []
        for n, (kind, node, data) in enumerate(rows):
            event: dict[str, Any] = {
                "id": f"{BASE_MS + n}-0",
                "timestamp": f"{DAY}09:30:0{n}Z",
                "type": kind,
                "runId": RUN,
                "data": data,
            }
            if node:
                event["nodeId"] = node
            out.append(event)
        return out

    # -- queues and admin ----------------------------------------------------------------
    def queues(self) -> dict[str, Any]:
        """A hostile handler name and lane, and a hostile worker."""
        depth = {"length": 1, "pending": 0, "waiting": 1, "lag": 1}
        return {
            "handlers": {self("qh"): {"normal": depth}, "fetchData": {self("ql"): depth}},
            "shards": [{"shard": 0, "inbox": 0, "timers": 0, "dlq": 1}],
            "deadLetters": 1,
            "workers": [
                {"id": self("wo"), "handlers": [self("wh")], "host": self("ho"), "pid": 7,
                 "concurrency": 4, "startedMs": BASE_MS, "lastSeenMs": BASE_MS + 1000,
                 "inFlight": 1, "processed": 3},
            ],
        }  # fmt: skip

    def dead_letters(self) -> list[dict[str, Any]]:
        """One dead letter, hostile in every text."""
        return [
            {"shard": 0, "id": f"{BASE_MS}-0", "stream": self("ds"), "originalId": f"{BASE_MS}-1",
             "deliveries": 5, "atMs": BASE_MS, "reason": self("dr"), "runId": self("du"),
             "nodeId": self("dn"), "handler": self("dh"), "attempt": 1},
        ]  # fmt: skip

    def users(self) -> list[dict[str, Any]]:
        """A user whose name and roles are hostile."""
        return [
            {"name": self("un"), "role": self("ur"), "policyRole": self("up"), "keys": [],
             "hasPassword": False, "disabled": False, "created": f"{DAY}08:00:00Z",
             "updated": f"{DAY}08:00:00Z"},
        ]  # fmt: skip

    def policy(self) -> dict[str, Any]:
        """A refused policy edit whose error quotes the file."""
        return {
            "policiesDir": self("pp"),
            "loadedAt": f"{DAY}08:00:00Z",
            "lastReloadAt": f"{DAY}09:00:00Z",
            "lastError": self("pe"),
            "lastErrorAt": f"{DAY}09:00:00Z",
            "inError": True,
            "policyLines": 3,
            "roles": [self("pr")],
            "usersFileError": self("pu"),
        }

    def audit(self) -> list[dict[str, Any]]:
        """One entry, hostile in every text."""
        return [
            {"id": f"{BASE_MS}-0", "time": f"{DAY}09:30:00.000Z", "user": self("au"),
             "role": self("ar"), "action": self("aa"), "resource": self("as"),
             "outcome": self("ao"), "requestId": "req-0001", "status": 409,
             "detail": self("ad")},
        ]  # fmt: skip

    def approvals(self) -> list[dict[str, Any]]:
        """One approval waiting, hostile in every text (its message, names, comment)."""
        return [
            {"runId": self("pr"), "workflowId": self("pw"), "workflowName": self("pn"),
             "nodeId": self("pd"), "message": self("pm"),
             "approvers": {"roles": [], "users": [self("pu")], "text": self("pt")},
             "required": 2, "approvals": 1,
             "decisions": [{"by": self("pb"), "role": self("po"), "approved": True,
                            "comment": self("pc"), "at": f"{DAY}09:30:00.000Z"}],
             "requestedTime": f"{DAY}09:30:00.000Z", "dueTime": f"{DAY}10:30:00.000Z",
             "onTimeout": "reject", "mayDecide": True, "decidedByYou": False},
        ]  # fmt: skip

    def whoami(self) -> dict[str, Any]:
        """An admin whose user name is hostile."""
        return {"user": self("me"), "role": "workflow_admin", "permissions": PERMISSIONS}

    def check_shapes(self) -> None:
        """Validate every answer with the API's response models (raises on drift)."""
        pairs: list[tuple[type[BaseModel], Any]] = [
            (schemas.Workflow, self.workflow()),
            (schemas.WorkflowList, {"workflows": self.summaries(), "total": 2, "hasMore": False}),
            (schemas.VersionList, {"versions": self.versions(), "total": 2}),
            (schemas.WorkflowRun, self.run()),
            (schemas.RunList, {"runs": [self.run_summary()], "total": 1, "hasMore": False}),
            (schemas.EventList, {"events": self.events()}),
            (admin_schemas.Queues, self.queues()),
            (admin_schemas.DeadLetters, {"deadLetters": self.dead_letters()}),
            (admin_schemas.UserList, {"users": self.users()}),
            (admin_schemas.PolicyStatus, self.policy()),
            (admin_schemas.AuditList, {"entries": self.audit()}),
            (schemas.WhoAmI, {**self.whoami(), "auth": "key"}),
            (approval_schemas.ApprovalList, {"approvals": self.approvals(), "total": 1}),
        ]
        for model, data in pairs:
            model.model_validate(data)


class HostileClient(DagqClient):
    """A client whose every read answers with :class:`Hostile` data; deleting a workflow
    fails with a message that quotes the payload (an error notification)."""

    def __init__(self, hostile: Hostile) -> None:
        super().__init__("http://hostile.invalid", api_key="canned")
        self.hostile = hostile

    async def whoami(self) -> WhoAmI:
        """The hostile admin."""
        return WhoAmI.model_validate({**self.hostile.whoami(), "auth": "key"})

    async def list_workflows(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        tags: Iterable[str] = (),
        limit: int = 20,
        offset: int = 0,
    ) -> Page[WorkflowSummary]:
        """Both rows."""
        rows = [WorkflowSummary.model_validate(r) for r in self.hostile.summaries()]
        return Page(rows[offset : offset + limit], len(rows), False)

    async def get_workflow(self, workflow_id: str) -> WorkflowRecord:
        """The hostile workflow."""
        return WorkflowRecord.model_validate(self.hostile.workflow())

    async def delete_workflow(self, workflow_id: str, *, force: bool = False) -> None:
        """Refused, quoting the payload."""
        raise Conflict(f"cannot delete: {self.hostile('nx')}")

    async def list_versions(self, workflow_id: str, *, limit: int = 10) -> list[VersionRecord]:
        """Versions 2 and 1."""
        return [VersionRecord.model_validate(v) for v in self.hostile.versions()[:limit]]

    async def get_version(self, workflow_id: str, version: int) -> VersionRecord:
        """Version 1 or 2 (the run's version for any other workflow id)."""
        return VersionRecord.model_validate(self.hostile.version(1 if version == 1 else 2))

    async def handlers(self) -> list[HandlerInfo]:
        """One handler with a hostile name."""
        return [HandlerInfo(name=self.hostile("hn"), workers=[self.hostile("hw")])]

    async def list_runs(
        self,
        workflow_id: str | None = None,
        *,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
        kind: str | None = None,
    ) -> Page[WorkflowRunSummary]:
        """The one failed run."""
        return Page([WorkflowRunSummary.model_validate(self.hostile.run_summary())], 1, False)

    async def get_run(self, run_id: str) -> WorkflowRun:
        """The failed run."""
        return WorkflowRun.model_validate(self.hostile.run())

    async def run_events(
        self, run_id: str, *, since: str | None = None, limit: int = 1000
    ) -> list[RunEvent]:
        """The run's events after ``since``."""
        events = self.hostile.events()
        ids = [e["id"] for e in events]
        start = ids.index(since) + 1 if since in ids else 0
        return [RunEvent.model_validate(e) for e in events[start : start + limit]]

    async def stream_run_events(
        self, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncGenerator[RunEvent, None]:
        """The run has ended: the stream has nothing more."""
        for event in await self.run_events(run_id, since=last_event_id):
            yield event

    async def approvals(self, *, everyone: bool = False) -> list[WaitingApprovalView]:
        return [WaitingApprovalView.model_validate(a) for a in self.hostile.approvals()]

    async def queues(self) -> Queues:
        """Depths and the hostile worker."""
        return Queues.model_validate(self.hostile.queues())

    async def dead_letters(self, *, limit: int = 100, shard: int | None = None) -> list[DeadLetter]:
        """The hostile dead letter."""
        return [DeadLetter.model_validate(d) for d in self.hostile.dead_letters()[:limit]]

    async def users(self) -> list[UserInfo]:
        """The hostile user."""
        return [UserInfo.model_validate(u) for u in self.hostile.users()]

    async def policy_status(self) -> PolicyStatus:
        """The refused policy edit."""
        return PolicyStatus.model_validate(self.hostile.policy())

    async def audit(
        self,
        *,
        limit: int = 100,
        user: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        before: str | None = None,
    ) -> list[AuditEntry]:
        """The hostile entry."""
        return [AuditEntry.model_validate(e) for e in self.hostile.audit()[:limit]]
