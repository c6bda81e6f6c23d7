"""Request and response models of templates (see ``schemas.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.spec.model import ID_PATTERN
from orchestrator.spec.template import TemplateSpec

__all__ = [
    "Instantiated",
    "TemplateDiff",
    "TemplateDiffQuery",
    "TemplateList",
    "TemplateSpec",
    "TemplateUse",
    "TemplateVersion",
    "TemplateVersionList",
    "TemplateWriteQuery",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class TemplateWriteQuery(_In):
    """Query of ``PUT /templates/{id}``."""

    changeLog: str | None = Field(default=None, max_length=1024)
    expectedVersion: int | None = Field(default=None, ge=1)


class TemplateDiffQuery(_In):
    """Query of ``GET /templates/{id}/diff``: the two versions to compare."""

    from_: int = Field(alias="from", ge=1)
    to: int = Field(ge=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TemplateUse(BaseModel):
    """Body of ``instantiate`` and ``use``: the new workflow's id and the values."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    workflowId: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    values: dict[str, Any] = Field(default_factory=dict, max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=256)
    version: int | None = Field(
        default=None, ge=1, description="Template version (default: newest)"
    )


class TemplateRow(_Out):
    """One row of the template list."""

    id: str
    name: str
    version: int
    parameters: list[str]


class TemplateList(_Out):
    """Every template, most recently updated first."""

    templates: list[TemplateRow]


class TemplateVersion(_Out):
    """One immutable version of a template."""

    version: int
    templateId: str
    createdAt: str
    template: dict[str, Any] | None = None


class TemplateVersionList(_Out):
    """A template's versions, newest first."""

    versions: list[TemplateVersion]


class TemplateDiff(_Out):
    """What changed between two versions."""

    templateId: str
    parameters: dict[str, list[str]]
    fields: list[str]
    nodes: dict[str, str]


class Instantiated(_Out):
    """The workflow (and schedules) a template made."""

    template: dict[str, Any]
    workflow: dict[str, Any]
    schedules: list[dict[str, Any]]
    saved: bool
