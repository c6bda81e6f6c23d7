"""Templates for clients: versions, the shipped gallery, and making workflows from them.

:meth:`TemplateService.instantiate` fills a template's placeholders
(:mod:`orchestrator.spec.template`) and judges the result exactly as a pushed workflow is
judged (the validator and this deployment's limits). A value that breaks the workflow is
refused naming the parameter: each error's place in the workflow is traced back to the
placeholders that filled it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from orchestrator.errors import BadRequest, NotFound, SpecInvalid
from orchestrator.service.runs import RunService
from orchestrator.service.schedules import ScheduleService
from orchestrator.service.workflows import check_handlers
from orchestrator.spec.diff import compare
from orchestrator.spec.limits import judge
from orchestrator.spec.model import ID_PATTERN, WorkflowSpec
from orchestrator.spec.schedule import ScheduleSpec, parse_schedules
from orchestrator.spec.template import (
    BUILTIN,
    Path,
    TemplateSpec,
    blame,
    gallery,
    parse_path,
    render,
    resolve_values,
)
from orchestrator.store.templates import TemplateStore

Outcome = Literal["created", "updated", "unchanged"]
_SEEDED: set[tuple[int, str]] = set()
"""(connection, key prefix) pairs whose gallery this process has stored already."""


def _same(a: TemplateSpec, b: TemplateSpec) -> bool:
    dump = {"exclude": {"version"}, "mode": "json"}
    return a.model_dump(**dump) == b.model_dump(**dump)  # type: ignore[arg-type]


def _where(issue: Mapping[str, Any], data: Mapping[str, Any]) -> Path:
    """Where in the rendered workflow an issue points: its path, else its node."""
    if issue.get("path"):
        return parse_path(str(issue["path"]))
    node_id = issue.get("nodeId")
    for i, node in enumerate(data.get("nodes") or []):
        if isinstance(node, Mapping) and node.get("id") == node_id:
            return ("nodes", i)
    return ()


def _refuse(
    template: TemplateSpec,
    issues: list[dict[str, Any]],
    data: Mapping[str, Any],
    used: Mapping[str, list[Path]],
    values: Mapping[str, Any],
) -> SpecInvalid:
    for issue in issues:
        names = [n for n in blame(used, _where(issue, data)) if n != BUILTIN]
        if names:
            issue["parameter"] = names[0]
    first = next((i for i in issues if "parameter" in i), None)
    if first is None:
        return SpecInvalid(
            f"template '{template.id}' makes an invalid workflow: {issues[0]['message']}",
            details={"errors": issues},
        )
    name = first["parameter"]
    shown = repr(values.get(name))[:80]
    return SpecInvalid(
        f"parameter {name!r} = {shown} cannot be used: {first['message']}",
        details={"parameter": name, "errors": issues},
    )


class TemplateService:
    """Everything a client may do with templates."""

    def __init__(self, runs: RunService) -> None:
        self.runs = runs
        self.store = TemplateStore(runs.redis, runs.keys)

    async def ensure_gallery(self) -> None:
        """Store the shipped templates this deployment never had (once per process)."""
        mark = (id(self.runs.redis), self.runs.keys.prefix)
        if mark in _SEEDED:
            return
        for template in gallery():
            await self.store.seed(template)
        _SEEDED.add(mark)

    # -- reads ---------------------------------------------------------------------------
    async def list_all(self) -> list[dict[str, Any]]:
        """Every template's list row, most recently updated first."""
        await self.ensure_gallery()
        return await self.store.list_all()

    async def get(self, template_id: str, version: int | None = None) -> dict[str, Any]:
        """One version (the current one by default) with its template and record fields."""
        await self.ensure_gallery()
        record = await self.store.version(template_id, version)
        meta = await self.store.meta(template_id)
        return {**record, "currentVersion": meta["version"], "updatedAt": meta.get("updatedAt")}

    async def template(self, template_id: str, version: int | None = None) -> TemplateSpec:
        """The :class:`TemplateSpec` of one version."""
        await self.ensure_gallery()
        return self.store.parse(template_id, await self.store.version(template_id, version))

    async def versions(self, template_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """The newest versions, newest first (without their templates)."""
        return await self.store.versions(template_id, limit=limit)

    async def diff(self, template_id: str, old: int, new: int) -> dict[str, Any]:
        """What changed between two versions: parameters, fields, nodes."""
        a = await self.template(template_id, old)
        b = await self.template(template_id, new)
        params = {
            "added": sorted(b.parameters.keys() - a.parameters.keys()),
            "removed": sorted(a.parameters.keys() - b.parameters.keys()),
            "changed": sorted(
                n
                for n in a.parameters.keys() & b.parameters.keys()
                if a.parameters[n] != b.parameters[n]
            ),
        }
        fields = [
            f
            for f in ("name", "description", "tags")
            if getattr(a, f) != getattr(b, f)
        ]  # fmt: skip
        keys = (a.workflow.keys() | b.workflow.keys()) - {"nodes", "edges"}
        fields += sorted(f"workflow.{k}" for k in keys if a.workflow.get(k) != b.workflow.get(k))
        _, nodes = compare(a.workflow, b.workflow)
        return {
            "templateId": template_id,
            "from": old,
            "to": new,
            "parameters": params,
            "fields": fields,
            "nodes": dict(sorted(nodes.items())),
        }

    # -- writes --------------------------------------------------------------------------
    async def push(
        self,
        template: TemplateSpec,
        *,
        user: str | None = None,
        change_log: str | None = None,
        expected_version: int | None = None,
        create_only: bool = False,
    ) -> tuple[dict[str, Any], Outcome]:
        """Create the template, or store it as a new version when it changed."""
        await self.ensure_gallery()
        try:
            current = await self.template(template.id)
        except NotFound:
            if expected_version is not None:
                raise
            return await self.store.create(template, user=user, change_log=change_log), "created"
        if create_only:
            await self.store.create(template)  # raises Conflict: it exists
        if _same(current, template) and expected_version in (None, current.version):
            return await self.store.version(template.id), "unchanged"
        record = await self.store.add_version(
            template, user=user, change_log=change_log, expected_version=expected_version
        )
        return record, "updated"

    async def delete(self, template_id: str) -> None:
        """Delete a template and its versions (workflows made from it stay)."""
        await self.ensure_gallery()
        await self.store.delete(template_id)

    # -- making workflows ------------------------------------------------------------------
    def instantiate(
        self,
        template: TemplateSpec,
        workflow_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> tuple[WorkflowSpec, list[ScheduleSpec]]:
        """The workflow (and schedules) ``template`` makes with ``values``, judged as a
        pushed workflow is; refused naming the parameter that broke it."""
        if not re.match(ID_PATTERN, workflow_id) or len(workflow_id) > 128:
            raise BadRequest(
                f"workflow id {workflow_id[:80]!r} is not an id: use 1-128 letters, digits, "
                "'_' and '-'"
            )
        resolved = resolve_values(template, values)
        data, used = render(template.workflow, {**resolved, BUILTIN: workflow_id})
        raw_schedules = data.pop("schedules", None)
        data["id"] = workflow_id
        if name:
            data["name"] = name
        data.setdefault("name", template.name)
        metadata = data.get("metadata")
        data["metadata"] = {
            **(metadata if isinstance(metadata, dict) else {}),
            "template": {"id": template.id, "version": template.version or 1},
        }
        result, spec = judge(data, self.runs.settings)
        if spec is None or not result.valid:
            raise _refuse(template, result.to_dict()["errors"], data, used, resolved)
        if raw_schedules is None:
            return spec, []
        items = raw_schedules if isinstance(raw_schedules, list) else [raw_schedules]
        schedules: list[ScheduleSpec] = []
        for i, item in enumerate(items):
            try:
                schedules += parse_schedules(workflow_id, [item])
            except ValidationError as exc:
                issues = [
                    {
                        "code": "SCHEMA",
                        "message": f"schedule {i + 1}, {'.'.join(map(str, e['loc']))}: {e['msg']}",
                        "path": ".".join(["schedules", f"[{i}]", *map(str, e["loc"])]),
                    }
                    for e in exc.errors()
                ]
                raise _refuse(template, issues, data, used, resolved) from None
            except ValueError as exc:
                issue = {"code": "SCHEMA", "message": f"schedules: {exc}", "path": "schedules"}
                raise _refuse(template, [issue], data, used, resolved) from None
        return spec, schedules

    async def use(
        self,
        template_id: str,
        workflow_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        name: str | None = None,
        user: str | None = None,
        save: bool = True,
    ) -> dict[str, Any]:
        """Make a workflow from a template; stored (with its schedules) when ``save``."""
        template = await self.template(template_id, version)
        spec, schedules = self.instantiate(template, workflow_id, values, name=name)
        answer: dict[str, Any] = {
            "template": {"id": template.id, "version": template.version or 1},
            "workflow": spec.model_dump(mode="json", exclude_none=True),
            "schedules": [s.model_dump(mode="json", exclude_none=True) for s in schedules],
            "saved": False,
        }
        if save:
            await check_handlers(self.runs, spec, user)
            note = f"made from template {template.id} v{template.version or 1}"
            record = await self.runs.workflows.create(spec, user=user, change_log=note)
            answer["workflow"] = record.to_api()
            scheduler = ScheduleService(self.runs)
            for schedule in schedules:  # owned by the user: fires run with their permissions
                try:
                    await scheduler.store.get(schedule.id)
                    exists = True
                except NotFound:
                    exists = False
                await scheduler.save(schedule, create=not exists, user=user)
            answer["saved"] = True
        return answer
