"""Request and response models of the HTTP API.

Request models are what the middleware validates query strings and bodies with (a
failure is a 400 naming every bad field).  Response models describe what handlers
return; handlers build plain dicts (the stores' ``to_api()`` views) for speed, and
the OpenAPI document is generated from these models, so the schemathesis test
checking every response against its schema keeps the two honest.  Most response
models live on the ground floor, in :mod:`orchestrator.wire`, because the client
parses the answers with the same classes; they are re-exported here.

Field names are the wire names (camelCase) on purpose: one name, no alias tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from orchestrator.spec.model import ID_PATTERN, WorkflowSpec
from orchestrator.vocab import RunStatus
from orchestrator.wire.runs import EventList as EventList
from orchestrator.wire.runs import NodeList as NodeList
from orchestrator.wire.runs import NodeStatusView as NodeStatusView
from orchestrator.wire.runs import RunEvent as RunEvent
from orchestrator.wire.runs import RunList as RunList
from orchestrator.wire.runs import ValidationIssue as ValidationIssue
from orchestrator.wire.runs import ValidationResult as ValidationResult
from orchestrator.wire.runs import WhoAmI as WhoAmI
from orchestrator.wire.runs import WorkflowList as WorkflowList
from orchestrator.wire.runs import WorkflowRun as WorkflowRun
from orchestrator.wire.runs import WorkflowRunSummary as WorkflowRunSummary
from orchestrator.wire.runs import WorkflowSummary as WorkflowSummary

MAX_ID_PART = 2**64 - 1


def _fits_64_bits(value: str) -> str:
    ms, _, seq = value.partition("-")
    if int(ms) > MAX_ID_PART or int(seq or 0) > MAX_ID_PART:
        raise ValueError("both parts of a stream id must fit in 64 bits")
    return value


StreamId = Annotated[
    str,
    Field(pattern=r"^\d{1,20}(-\d{1,20})?$", max_length=41),
    AfterValidator(_fits_64_bits),
]


def _iso_time(value: object) -> object:
    # pydantic would read "0.5" as a Unix timestamp; the documented form is ISO 8601 only.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise ValueError("expected an ISO 8601 time with a zone, e.g. 2025-01-31T12:00:00Z")


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_time)]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
NodeRef = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Body(BaseModel):
    # Strict: a JSON body has real types, so ``false`` is not a shard and "5" not a priority.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- query strings ----------------------------------------------------------------------


class WorkflowListQuery(_In):
    """Filters and paging of ``GET /workflows``."""

    name: str | None = Field(default=None, max_length=256, description="Substring of name or id")
    status: Literal["draft", "published", "deprecated"] | None = None
    tag: list[Tag] = Field(default_factory=list, max_length=10, description="All must be present")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class DeleteQuery(_In):
    """``DELETE /workflows/{id}``: ``force`` also cancels the workflow's active runs and
    removes its schedules and webhooks (without it, any of them is a 409 listing them)."""

    force: bool = False


class SpecWriteQuery(_In):
    """Options of a spec write (update, new version)."""

    changeLog: str | None = Field(default=None, max_length=200)
    expectedVersion: int | None = Field(
        default=None, ge=1, description="Refuse (409) unless this is the current version"
    )


class VersionListQuery(_In):
    """Paging of ``GET /workflows/{id}/versions`` (newest first)."""

    limit: int = Field(default=10, ge=1, le=100)


class RunListQuery(_In):
    """Filters and paging of run listings."""

    status: RunStatus | None = None
    startTime: IsoTime | None = Field(
        default=None, description="Runs started at or after this ISO 8601 time (with a zone)"
    )
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class AllRunsQuery(RunListQuery):
    """``GET /runs`` may also narrow to one workflow (even a deleted one)."""

    workflowId: str | None = Field(default=None, min_length=1, max_length=128)
    kind: Literal["job"] | None = Field(
        default=None, description="job: only plain jobs and chains (POST /jobs)"
    )


class EventsQuery(_In):
    """``since``: a stream id (exclusive) or an ISO 8601 time (inclusive)."""

    since: str | None = Field(
        default=None,
        max_length=64,
        description="An event id (events after it) or an ISO 8601 time with a zone "
        "(events recorded at or after it)",
    )
    limit: int = Field(default=1000, ge=1, le=10_000)


# --- bodies -----------------------------------------------------------------------------


class RunParameters(_Body):
    """Body of ``POST /workflows/{id}/runs``."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=0, le=10)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, description="Pinned version (default: current)")


class RetryOptions(_Body):
    """Body of ``POST /runs/{id}/retry``."""

    fromNode: NodeRef | None = Field(default=None, description="Retry from this node onwards")
    onlyNode: bool = Field(default=False, description="Rerun only fromNode, then continue")
    skipNodes: list[NodeRef] = Field(
        default_factory=list,
        max_length=500,
        description="Tasks or delays not to run again: skipped, their successors go on",
    )
    parameters: dict[str, Any] | None = Field(
        default=None, description="Parameters to change for the retry (merged over the run's)"
    )


class SpecDraft(BaseModel):
    """Any JSON object, judged as a workflow spec: the answer lists every problem found."""

    model_config = ConfigDict(extra="allow")


# --- responses --------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    """Every error: a stable code, a sentence, and details (``errors`` for invalid specs)."""

    error: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class Workflow(WorkflowSpec):
    """A stored workflow: its current spec (snake_case, as exported) plus record fields."""

    model_config = ConfigDict(extra="allow")

    status: Literal["draft", "published", "deprecated"]
    createdAt: datetime
    updatedAt: datetime
    createdBy: str | None = None
    updatedBy: str | None = None


class WorkflowVersion(_Out):
    """One immutable version."""

    version: int
    workflowId: str
    spec: WorkflowSpec
    createdAt: datetime
    createdBy: str | None = None
    changeLog: str = Field(default="", description="Empty when none was given")


class VersionList(_Out):
    """Versions, newest first."""

    versions: list[WorkflowVersion]
    total: int


class Health(_Out):
    """Liveness or readiness."""

    status: Literal["ok", "unavailable"]
    redis: str | None = None
