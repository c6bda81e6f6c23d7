"""The route table: every endpoint with its permission, models, statuses and summary.

Routes are data, apart from the handlers: the middleware authorizes each request by
the permission its route declares, validates the query and body with the declared
models, rate-limits by the declared action, and audits every non-GET route; the
OpenAPI document is generated from this table; the role matrix test iterates it.
A route cannot be added without saying who may call it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from orchestrator.api import admin_schemas as sa
from orchestrator.api import approval_schemas as sp
from orchestrator.api import insight_schemas as si
from orchestrator.api import job_schemas as js
from orchestrator.api import schemas as s
from orchestrator.api import template_schemas as tp
from orchestrator.api import trigger_schemas as ts
from orchestrator.api.handlers import (
    admin,
    approvals,
    checks,
    health,
    hooks,
    insight,
    items,
    jobs,
    logs,
    runs,
    schedules,
    templates,
    workflows,
)
from orchestrator.api.http import API_PREFIX
from orchestrator.spec.model import WorkflowSpec

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC = "public"
"""Permission of routes anyone may call (health, metrics, the OpenAPI document)."""
AUTHENTICATED = "authenticated"
"""Permission of routes any authenticated caller may use (``/whoami``)."""


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint."""

    method: str
    path: str
    handler: Handler
    permission: str
    """A Casbin permission (``workflow:read``), :data:`AUTHENTICATED` or :data:`PUBLIC`."""
    operation_id: str
    summary: str
    tag: str
    status: int = 200
    """Status of success."""
    response: type[BaseModel] | None = None
    """Model of the success body (None: no body, or not JSON)."""
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    """Model of the JSON body; for ``spec_body`` routes the documented spec schema."""
    body_required: bool = False
    spec_body: bool = False
    """The body is a workflow spec judged by the validator (422 with its codes)."""
    errors: tuple[int, ...] = ()
    """Route-specific error statuses (404, 409, 422, 429...)."""
    rate_limit: str | None = None
    """Action name in ``workflow.security.rate_limiting``."""
    event_stream: bool = False
    """Also answers ``text/event-stream``."""
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()
    """Request headers the route reads (documented in the OpenAPI document)."""
    replay_status: int | None = None
    """A second success status (200 when an ``Idempotency-Key`` returns the first run)."""
    subject: str | None = None
    """What the change is about, for the audit entry's detail: ``user`` names the user of
    the path's ``{name}`` or of the body's ``name`` (``user bea``)."""
    audit_detail: Callable[[web.Request], str | None] | None = None
    """What the audit entry says beyond who and which route (a decision and its comment)."""
    question: bool = False
    """A POST that changes nothing (a permission check): not audited as a change; the
    handler audits what needs it."""

    @property
    def mutating(self) -> bool:
        """Whether the route changes state (and so is audited)."""
        return self.method not in ("GET", "HEAD") and not self.question


def _r(method: str, path: str, handler: Handler, permission: str, op: str, summary: str,
       tag: str, **kw: object) -> Route:  # fmt: skip
    return Route(method, API_PREFIX + path, handler, permission, op, summary, tag, **kw)  # type: ignore[arg-type]


W, R, N, V, A = "workflows", "runs", "nodes", "versions", "admin"
S, H = "schedules", "hooks"
HK = "/hooks/{hookId}"
WF = "/workflows/{workflowId}"
RUN = "/runs/{runId}"
SC = "/schedules/{scheduleId}"
J, JOB = "jobs", "/jobs/{jobId}"
T, TP = "templates", "/templates/{templateId}"

ROUTES: tuple[Route, ...] = (
    # -- workflows ----------------------------------------------------------------------
    _r("GET", "/workflows", workflows.list_workflows, "workflow:read", "listWorkflows",
       "List workflows", W, response=s.WorkflowList, query=s.WorkflowListQuery),
    _r("POST", "/workflows", workflows.create_workflow, "workflow:create", "createWorkflow",
       "Create a workflow (version 1)", W, status=201, response=s.Workflow, body=WorkflowSpec,
       body_required=True, spec_body=True, errors=(409, 422, 429), rate_limit="create_workflow"),
    _r("GET", WF, workflows.get_workflow, "workflow:read", "getWorkflow",
       "Get a workflow", W, response=s.Workflow, errors=(404,)),
    _r("PUT", WF, workflows.update_workflow, "workflow:update", "updateWorkflow",
       "Update a workflow (stores the next version)", W, response=s.Workflow,
       query=s.SpecWriteQuery, body=WorkflowSpec, body_required=True, spec_body=True,
       errors=(404, 409, 422)),
    _r("DELETE", WF, workflows.delete_workflow, "workflow:delete", "deleteWorkflow",
       "Delete a workflow (409 while it has active runs, schedules or webhooks; force "
       "cancels the runs and removes the schedules and webhooks too)", W, status=204,
       query=s.DeleteQuery, errors=(404, 409), audit_detail=workflows.delete_detail),
    _r("POST", WF + "/validate", workflows.validate_workflow, "workflow:validate",
       "validateWorkflow", "Validate the stored workflow, or the spec in the body", W,
       response=s.ValidationResult, body=s.SpecDraft, spec_body=True, errors=(404,)),
    _r("POST", "/validate", workflows.validate_spec, "workflow:validate", "validateSpec",
       "Validate an unsaved spec", W, response=s.ValidationResult, body=s.SpecDraft,
       body_required=True, spec_body=True),
    # -- versions -----------------------------------------------------------------------
    _r("GET", WF + "/versions", workflows.list_versions, "workflow:read",
       "listWorkflowVersions", "List versions, newest first", V, response=s.VersionList,
       query=s.VersionListQuery, errors=(404,)),
    _r("POST", WF + "/versions", workflows.create_version, "workflow:update",
       "createWorkflowVersion", "Create a version", V, status=201,
       response=s.WorkflowVersion, query=s.SpecWriteQuery, body=WorkflowSpec,
       body_required=True, spec_body=True, errors=(404, 409, 422)),
    _r("GET", WF + "/versions/{version}", workflows.get_version, "workflow:read",
       "getWorkflowVersion", "Get one version", V, response=s.WorkflowVersion, errors=(404,)),
    # -- runs ---------------------------------------------------------------------------
    _r("GET", WF + "/runs", runs.list_workflow_runs, "run:read", "listWorkflowRuns",
       "List a workflow's runs", R, response=s.RunList, query=s.RunListQuery, errors=(404,)),
    _r("POST", WF + "/runs", runs.start_run, "workflow:execute", "startWorkflowRun",
       "Start a run", R, status=201, response=s.WorkflowRun, body=s.RunParameters,
       errors=(404, 409, 422, 429), rate_limit="start_run", headers=("Idempotency-Key",),
       replay_status=200),
    _r("GET", "/runs", runs.list_runs, "run:read", "listRuns", "List runs", R,
       response=s.RunList, query=s.AllRunsQuery),
    _r("GET", RUN, runs.get_run, "run:read", "getWorkflowRun", "Get a run", R,
       response=s.WorkflowRun, errors=(404,)),
    _r("DELETE", RUN, runs.cancel_run, "run:cancel", "cancelWorkflowRun", "Cancel a run", R,
       status=204, errors=(404, 409)),
    _r("POST", RUN + "/retry", runs.retry_run, "workflow:execute", "retryWorkflowRun",
       "Retry a run from its failure or from a node", R, status=201, response=s.WorkflowRun,
       body=s.RetryOptions, errors=(404, 409)),
    _r("GET", RUN + "/nodes", runs.list_nodes, "run:read", "getNodeStatuses",
       "Get every node's status", N, response=s.NodeList, errors=(404,)),
    _r("GET", RUN + "/nodes/{nodeId}", runs.get_node, "run:read", "getNodeStatus",
       "Get one node's status", N, response=s.NodeStatusView, errors=(404,)),
    _r("POST", RUN + "/nodes/{nodeId}/retry", runs.retry_node, "workflow:execute", "retryNode",
       "Rerun one node of a failed run", N, response=s.NodeStatusView, errors=(404, 409)),
    _r("GET", RUN + "/nodes/{nodeId}/items", items.node_items, "run:read", "getMapItems",
       "A map node's items: status, attempts, output or error", N,
       response=items.MapItems, query=items.ItemsQuery, errors=(400, 404)),
    _r("POST", RUN + "/nodes/{nodeId}/decision", approvals.decide, "run:approve",
       "decideApproval", "Approve or reject a waiting approval (one decision per person)", N,
       response=sp.Decided, body=sp.Decision, body_required=True, errors=(404, 409),
       audit_detail=approvals.decision_detail),
    _r("POST", RUN + "/signals/{name}", approvals.send_signal, "run:signal", "sendSignal",
       "Send a signal to a run (kept until a node waits for it); the body is its payload", R,
       status=202, response=sp.SignalSent, body=sp.SignalPayload, errors=(404, 409),
       audit_detail=approvals.signal_detail),
    _r("GET", "/notify/secret", approvals.get_notify_secret, "system:configure",
       "getNotifySecret", "The key signing workflow notifications (X-Dagq-Signature)", H,
       response=sp.NotifySecret),
    _r("GET", "/approvals", approvals.list_approvals, "run:read", "listApprovals",
       "Approvals waiting for the caller, oldest first", R, response=sp.ApprovalList,
       query=sp.ApprovalsQuery),
    _r("GET", RUN + "/logs", logs.run_logs, "run:read", "getRunLogs",
       "What the run's handlers logged and printed, per attempt", R,
       response=logs.RunLogs, query=logs.LogsQuery, errors=(404,)),
    _r("GET", RUN + "/nodes/{nodeId}/logs", logs.node_logs, "run:read", "getNodeLogs",
       "What one node's handler logged and printed, per attempt", N,
       response=logs.RunLogs, query=logs.LogsQuery, errors=(404,)),
    _r("GET", RUN + "/events", runs.run_events, "run:read", "streamRunEvents",
       "Run events: JSON after `since`, or a live text/event-stream", R,
       response=s.EventList, query=s.EventsQuery, errors=(404,), event_stream=True),
    # -- insight: replay, Gantt, compare, stats -------------------------------------------
    _r("GET", RUN + "/replay", insight.replay_at, "run:read", "replayRun",
       "Every node's status at a moment of the run, rebuilt from its events", R,
       response=si.ReplayAt, query=si.ReplayQuery, errors=(404,)),
    _r("GET", RUN + "/replay/steps", insight.replay_frames, "run:read", "replayRunSteps",
       "The run's replay: each recorded event and the nodes it changed", R,
       response=si.ReplayFrames, errors=(404,)),
    _r("GET", RUN + "/gantt", insight.gantt, "run:read", "getRunGantt",
       "Node attempts on a time axis and the critical path", R, response=si.Gantt,
       errors=(404,)),
    _r("GET", RUN + "/diff", insight.diff, "run:read", "diffRuns",
       "Compare the run with another run of its workflow", R, response=si.RunDiff,
       query=si.DiffQuery, errors=(404,)),
    _r("GET", WF + "/stats", insight.stats, "run:read", "getWorkflowStats",
       "Duration percentiles per node over the workflow's last finished runs", W,
       response=si.WorkflowStats, query=si.StatsQuery, errors=(404,)),
    # -- schedules ----------------------------------------------------------------------
    _r("GET", "/schedules", schedules.list_schedules, "schedule:read", "listSchedules",
       "List schedules", S, response=ts.ScheduleList, query=ts.ScheduleListQuery),
    _r("POST", "/schedules", schedules.create_schedule, "schedule:write", "createSchedule",
       "Create a schedule", S, status=201, response=ts.ScheduleView, body=ts.ScheduleSpec,
       body_required=True, errors=(404, 409)),
    _r("GET", SC, schedules.get_schedule, "schedule:read", "getSchedule",
       "Get a schedule: next 5 fires, last 20 outcomes", S, response=ts.ScheduleView,
       errors=(404,)),
    _r("PUT", SC, schedules.update_schedule, "schedule:write", "updateSchedule",
       "Replace a schedule", S, response=ts.ScheduleView, body=ts.ScheduleUpdate,
       body_required=True, errors=(404,)),
    _r("DELETE", SC, schedules.delete_schedule, "schedule:write", "deleteSchedule",
       "Delete a schedule (its runs stay)", S, status=204, errors=(404,)),
    _r("POST", SC + "/pause", schedules.pause_schedule, "schedule:write", "pauseSchedule",
       "Pause a schedule, with a note", S, response=ts.ScheduleView, body=ts.PauseNote,
       errors=(404,)),
    _r("POST", SC + "/resume", schedules.resume_schedule, "schedule:write", "resumeSchedule",
       "Resume a schedule from its next fire time", S, response=ts.ScheduleView,
       body=ts.PauseNote, errors=(404,)),
    _r("POST", SC + "/trigger", schedules.trigger_schedule, "workflow:execute",
       "triggerSchedule", "Start a run of the schedule now", S, response=ts.ScheduleView,
       errors=(404, 429), rate_limit="start_run"),
    _r("POST", SC + "/backfill", schedules.start_backfill, "workflow:execute",
       "startBackfill", "Start one run per fire time in a past range", S, status=202,
       response=ts.BackfillView, body=ts.BackfillRequest, body_required=True,
       errors=(404, 409)),
    _r("GET", SC + "/backfill", schedules.get_backfill, "schedule:read", "getBackfill",
       "The schedule's backfill and its progress", S, response=ts.BackfillView,
       errors=(404,)),
    # -- webhooks -----------------------------------------------------------------------
    _r("GET", "/hooks", hooks.list_hooks, "hook:read", "listHooks", "List webhooks", H,
       response=ts.HookList),
    _r("POST", "/hooks", hooks.create_hook, "hook:write", "createHook",
       "Create a webhook (the answer holds its secret, shown this once)", H, status=201,
       response=ts.HookSecret, body=ts.HookCreate, body_required=True, errors=(404,)),
    _r("DELETE", HK, hooks.delete_hook, "hook:write", "deleteHook", "Delete a webhook", H,
       status=204, errors=(404,)),
    _r("POST", HK + "/rotate", hooks.rotate_hook, "hook:write", "rotateHook",
       "A new secret for a webhook (the old one stops working)", H,
       response=ts.HookSecret, errors=(404,)),
    # -- plain jobs and chains ------------------------------------------------------------
    _r("POST", "/jobs", jobs.enqueue_job, "job:enqueue", "enqueueJob",
       "Enqueue a job (one handler) or a chain (handlers in order) with a payload", J,
       status=201, response=js.Job, body=js.JobRequest, body_required=True,
       errors=(422, 429), rate_limit="start_run"),
    _r("GET", "/jobs", jobs.list_jobs, "run:read", "listJobs", "List jobs, newest first", J,
       response=js.JobList, query=js.JobListQuery),
    _r("GET", JOB, jobs.get_job, "run:read", "getJob", "Get a job", J, response=js.Job,
       errors=(404,)),
    _r("DELETE", JOB, jobs.cancel_job, "run:cancel", "cancelJob", "Cancel a job", J,
       status=204, errors=(404, 409)),
    _r("POST", JOB + "/promote", jobs.promote_job, "run:read", "promoteJob",
       "The workflow behind a job or chain, as a workflow to save and extend (not stored)",
       J, response=js.Promoted, body=js.JobPromotion, body_required=True, errors=(404,)),
    # -- templates ------------------------------------------------------------------------
    _r("GET", "/templates", templates.list_templates, "template:read", "listTemplates",
       "List templates (the shipped gallery included)", T, response=tp.TemplateList),
    _r("POST", "/templates", templates.create_template, "template:write", "createTemplate",
       "Create a template (version 1)", T, status=201, response=tp.TemplateVersion,
       body=tp.TemplateSpec, body_required=True, errors=(409,)),
    _r("GET", TP, templates.get_template, "template:read", "getTemplate",
       "Get a template's current version", T, response=tp.TemplateVersion, errors=(404,)),
    _r("PUT", TP, templates.update_template, "template:write", "updateTemplate",
       "Store the next version of a template (nothing when unchanged)", T,
       response=tp.TemplateVersion, query=tp.TemplateWriteQuery, body=tp.TemplateSpec,
       body_required=True, errors=(404, 409)),
    _r("DELETE", TP, templates.delete_template, "template:write", "deleteTemplate",
       "Delete a template (workflows made from it stay)", T, status=204, errors=(404,)),
    _r("GET", TP + "/versions", templates.list_versions, "template:read",
       "listTemplateVersions", "List a template's versions, newest first", T,
       response=tp.TemplateVersionList, errors=(404,)),
    _r("GET", TP + "/versions/{version}", templates.get_version, "template:read",
       "getTemplateVersion", "Get one version of a template", T,
       response=tp.TemplateVersion, errors=(404,)),
    _r("GET", TP + "/diff", templates.diff_versions, "template:read", "diffTemplateVersions",
       "Compare two versions of a template", T, response=tp.TemplateDiff,
       query=tp.TemplateDiffQuery, errors=(404,)),
    _r("POST", TP + "/instantiate", templates.instantiate, "template:read",
       "instantiateTemplate", "The workflow a template makes with these values (not stored)",
       T, response=tp.Instantiated, body=tp.TemplateUse, body_required=True,
       errors=(404, 422)),
    _r("POST", TP + "/use", templates.use_template, "workflow:create", "useTemplate",
       "Make and store a workflow (and its schedules) from a template", T, status=201,
       response=tp.Instantiated, body=tp.TemplateUse, body_required=True,
       errors=(404, 409, 422), rate_limit="create_workflow"),
    # -- administration -----------------------------------------------------------------
    _r("GET", "/whoami", admin.whoami, AUTHENTICATED, "whoami",
       "The caller, its role and permissions", A, response=s.WhoAmI),
    _r("POST", "/auth/check", checks.check_permission, AUTHENTICATED, "checkPermission",
       "Whether the caller holds a permission now; a denial is audited (the app asks after "
       "refusing an action locally)", A, response=sa.PermissionAnswer, body=sa.PermissionCheck,
       body_required=True, errors=(429,), rate_limit="check_permission", question=True),
    _r("GET", "/audit", admin.audit, "system:configure", "listAudit",
       "Audit entries, newest first", A, response=sa.AuditList, query=sa.AuditQuery),
    _r("GET", "/audit/strangers", admin.strangers, "system:configure", "listStrangers",
       "Refused unauthenticated requests per minute and address (kept apart from the audit)",
       A, response=sa.StrangerList, query=sa.StrangersQuery),
    _r("GET", "/system/policy", admin.policy_status, "system:configure", "getPolicyStatus",
       "Policy status: last reload and last error", A, response=sa.PolicyStatus),
    _r("GET", "/system/users", admin.users, "system:configure", "listUsers",
       "Users and their roles", A, response=sa.UserList),
    _r("POST", "/system/users", admin.create_user, "system:configure", "createUser",
       "Add a user with a role; its first API key is shown once", A, status=201,
       response=sa.CreatedUser, body=sa.NewUser, body_required=True, errors=(409,),
       subject="user"),
    _r("PATCH", "/system/users/{name}", admin.change_user, "system:configure", "changeUser",
       "Change a user's role, or disable or enable it", A, response=sa.UserInfo,
       body=sa.UserChange, body_required=True, errors=(404, 409), subject="user"),
    _r("POST", "/system/users/{name}/keys", admin.issue_key, "system:configure", "issueUserKey",
       "A new API key for the user (its older keys stop working), shown once", A,
       status=201, response=sa.IssuedKey, errors=(404,), subject="user"),
    _r("PUT", "/system/users/{name}/password", admin.set_password, "system:configure",
       "setUserPassword", "Set or remove the user's web password", A, response=sa.UserInfo,
       body=sa.NewPassword, body_required=True, errors=(404,), subject="user"),
    _r("GET", "/queues", admin.queues, "run:read", "getQueues",
       "Queue depths and live workers", A, response=sa.Queues),
    _r("GET", "/queues/dead-letters", admin.dead_letters, "system:configure",
       "listDeadLetters", "Dead-lettered jobs", A, response=sa.DeadLetters,
       query=sa.DeadLetterQuery),
    _r("POST", "/queues/dead-letters/requeue", admin.requeue_dead, "system:configure",
       "requeueDeadLetters", "Put dead letters back on their queues", A,
       response=sa.Requeued, body=sa.DeadLetterIds, body_required=True),
    _r("POST", "/queues/dead-letters/purge", admin.purge_dead, "system:configure",
       "purgeDeadLetters", "Delete dead letters (their attempts fail)", A,
       response=sa.Purged, body=sa.DeadLetterIds, body_required=True),
    _r("GET", "/handlers", admin.handlers, "workflow:read", "listHandlers",
       "Handlers offered by live workers", A, response=sa.Handlers),
    # -- unauthenticated ----------------------------------------------------------------
    Route("GET", "/healthz", health.healthz, PUBLIC, "healthz", "Liveness", "health",
          response=s.Health),
    Route("GET", "/readyz", health.readyz, PUBLIC, "readyz", "Readiness (Redis reachable)",
          "health", response=s.Health, errors=(503,)),
    Route("POST", HK, hooks.deliver, PUBLIC, "deliverHook",
          "A signed webhook delivery: X-Dagq-Timestamp and X-Dagq-Signature "
          "(sha256=<hex HMAC-SHA256(secret, timestamp + '.' + raw body)>) start a run",
          H, status=202, response=ts.HookAccepted, errors=(401, 404, 409, 413, 422, 429),
          headers=("X-Dagq-Timestamp", "X-Dagq-Signature", "Idempotency-Key")),
    Route("GET", "/metrics", health.metrics, PUBLIC, "metrics", "Prometheus metrics",
          "health", media_type="text/plain"),
    Route("GET", API_PREFIX + "/openapi.json", health.openapi, PUBLIC, "openapi",
          "This OpenAPI document", "health", media_type="application/json"),
)  # fmt: skip
