"""Request and response models of templates (see ``schemas.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.spec.model import ID_PATTERN
from orchestrator.spec.template import TemplateSpec
from orchestrator.wire.triggers import Instantiated as Instantiated
from orchestrator.wire.triggers import TemplateDiff as TemplateDiff
from orchestrator.wire.triggers import TemplateList as TemplateList
from orchestrator.wire.triggers import TemplateRow as TemplateRow
from orchestrator.wire.triggers import TemplateVersion as TemplateVersion
from orchestrator.wire.triggers import TemplateVersionList as TemplateVersionList

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
