"""Stored workflow records, shaped like the API's ``Workflow``, ``WorkflowSummary`` and
``WorkflowVersion`` schemas (the upstream project's OpenAPI description of this API).

Record fields are camelCase on the wire (``createdAt``, ``nodeCount``); the spec part
stays the spec's own snake_case JSON (``model_dump(mode="json", exclude_none=True)``),
the canonical form export writes.  Timestamps are timezone-aware UTC ``datetime``s,
ISO 8601 with a ``Z`` in JSON, kept to the millisecond (the index scores are ms).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator
from pydantic.alias_generators import to_camel

from orchestrator.spec.model import WorkflowSpec

WorkflowStatus = Literal["draft", "published", "deprecated"]
STATUSES: tuple[str, ...] = ("draft", "published", "deprecated")


def utc_now() -> datetime:
    """Now in UTC, truncated to the millisecond."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def to_ms(moment: datetime) -> int:
    """A datetime as epoch milliseconds."""
    return int(moment.timestamp() * 1000)


class _Record(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
    )

    @field_validator("created_at", "updated_at", mode="after", check_fields=False)
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class WorkflowSummary(_Record):
    """One row of the workflow list (the API's ``WorkflowSummary``)."""

    id: str
    name: str
    description: str = ""
    status: WorkflowStatus = "draft"
    version: int = Field(ge=1)
    node_count: int = Field(ge=0)
    edge_count: int = Field(ge=0)
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    def to_api(self) -> dict[str, Any]:
        """camelCase JSON for the API."""
        return self.model_dump(mode="json")


class WorkflowMeta(WorkflowSummary):
    """The ``meta`` field of a workflow hash: the summary plus who created and last changed it.

    Kept compact (no nodes, no edges) so the list reads only metas.
    """

    created_by: str | None = None
    updated_by: str | None = None

    def summary(self) -> WorkflowSummary:
        """The list row of this workflow."""
        return WorkflowSummary.model_validate(self.model_dump())


class WorkflowVersion(_Record):
    """One immutable version of a workflow (the API's ``WorkflowVersion``)."""

    version: int = Field(ge=1)
    workflow_id: str
    spec: WorkflowSpec
    created_at: datetime
    created_by: str | None = None
    change_log: str | None = None

    @field_serializer("spec")
    def _spec_json(self, spec: WorkflowSpec) -> dict[str, Any]:
        # The spec keeps its snake_case form even when the record is dumped by alias.
        return spec.model_dump(mode="json", exclude_none=True)

    def to_api(self) -> dict[str, Any]:
        """camelCase JSON for the API; ``spec`` is the spec's snake_case JSON."""
        return self.model_dump(mode="json", exclude_none=True)


class WorkflowRecord(_Record):
    """A workflow's current state: its current spec plus the record fields.

    ``to_api()`` is the API's ``Workflow``: the spec's snake_case JSON (with ``id`` and
    ``version``) merged with ``status``, ``createdAt``, ``updatedAt``, ``createdBy``,
    ``updatedBy`` (the last two left out when unknown).
    """

    spec: WorkflowSpec
    status: WorkflowStatus = "draft"
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    updated_by: str | None = None

    @property
    def id(self) -> str:
        """The workflow id."""
        return self.spec.id

    @property
    def version(self) -> int:
        """The current version number."""
        return self.spec.version or 1

    @field_serializer("spec")
    def _spec_json(self, spec: WorkflowSpec) -> dict[str, Any]:
        return spec.model_dump(mode="json", exclude_none=True)

    def to_api(self) -> dict[str, Any]:
        """The API's ``Workflow`` object (see the class docstring)."""
        record = self.model_dump(mode="json", exclude_none=True)
        spec: dict[str, Any] = record.pop("spec")
        return {**spec, "id": self.id, "version": self.version, **record}

    def meta(self) -> WorkflowMeta:
        """The compact meta stored beside the versions."""
        return WorkflowMeta(
            id=self.id,
            name=self.spec.name,
            description=self.spec.description,
            status=self.status,
            version=self.version,
            node_count=len(self.spec.nodes),
            edge_count=len(self.spec.flow_edges()),
            tags=list(self.spec.tags),
            created_at=self.created_at,
            updated_at=self.updated_at,
            created_by=self.created_by,
            updated_by=self.updated_by,
        )

    def summary(self) -> WorkflowSummary:
        """The list row of this workflow."""
        return self.meta().summary()
