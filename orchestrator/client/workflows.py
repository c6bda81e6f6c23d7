"""The client's calls for workflows, their versions and validation (mixed into
``DagqClient``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.client.base import PREFIX, Calls, wf
from orchestrator.wire.base import Page, Wire
from orchestrator.wire.runs import (
    ValidationResult,
    VersionRecord,
    WorkflowList,
    WorkflowRecord,
    WorkflowSummary,
)


class _Versions(Wire):
    versions: list[VersionRecord]


class WorkflowCalls(Calls):
    """Workflows, versions and validation over the API."""

    async def create_workflow(self, spec: Mapping[str, Any]) -> WorkflowRecord:
        """Store a new workflow (version 1); SpecInvalid lists every problem."""
        return await self._as(WorkflowRecord, "POST", f"{PREFIX}/workflows", body=spec)

    async def get_workflow(self, workflow_id: str) -> WorkflowRecord:
        """The workflow's current version and record fields."""
        return await self._as(WorkflowRecord, "GET", wf(workflow_id))

    async def update_workflow(
        self,
        workflow_id: str,
        spec: Mapping[str, Any],
        *,
        change_log: str | None = None,
        expected_version: int | None = None,
    ) -> WorkflowRecord:
        """Store ``spec`` as the next version; Conflict if ``expected_version`` is stale."""
        params = {"changeLog": change_log, "expectedVersion": expected_version}
        return await self._as(WorkflowRecord, "PUT", wf(workflow_id), body=spec, params=params)

    async def delete_workflow(self, workflow_id: str, *, force: bool = False) -> None:
        """Delete a workflow; Conflict while it has active runs unless ``force``."""
        await self._call("DELETE", wf(workflow_id), params={"force": "true" if force else None})

    async def list_workflows(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        tags: Iterable[str] = (),
        limit: int = 20,
        offset: int = 0,
    ) -> Page[WorkflowSummary]:
        """A page of workflow summaries, most recently updated first."""
        params: list[tuple[str, Any]] = [("name", name), ("status", status)]
        params += [("tag", t) for t in tags] + [("limit", limit), ("offset", offset)]
        data = await self._as(WorkflowList, "GET", f"{PREFIX}/workflows", params=params)
        return Page(data.workflows, data.total, data.hasMore)

    async def create_version(
        self, workflow_id: str, spec: Mapping[str, Any], *, change_log: str | None = None
    ) -> VersionRecord:
        """Store ``spec`` as a new version and return that version."""
        path, params = f"{wf(workflow_id)}/versions", {"changeLog": change_log}
        return await self._as(VersionRecord, "POST", path, body=spec, params=params)

    async def get_version(self, workflow_id: str, version: int) -> VersionRecord:
        """One stored version."""
        return await self._as(VersionRecord, "GET", f"{wf(workflow_id)}/versions/{version}")

    async def list_versions(self, workflow_id: str, *, limit: int = 10) -> list[VersionRecord]:
        """The newest versions, newest first."""
        path, params = f"{wf(workflow_id)}/versions", {"limit": limit}
        return (await self._as(_Versions, "GET", path, params=params)).versions

    async def validate_workflow(
        self, workflow_id: str, spec: Mapping[str, Any] | None = None
    ) -> ValidationResult:
        """Validate the stored workflow (or ``spec`` for it): ``{valid, errors, warnings}``."""
        return await self._as(ValidationResult, "POST", f"{wf(workflow_id)}/validate", body=spec)

    async def validate_spec(self, spec: Mapping[str, Any]) -> ValidationResult:
        """Validate an unsaved spec: ``{valid, errors, warnings}``."""
        return await self._as(ValidationResult, "POST", f"{PREFIX}/validate", body=spec)
