"""Request and response models of plain jobs and chains (see ``schemas.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from orchestrator.api.schemas import IsoTime, Tag
from orchestrator.durations import DurationError, parse_duration
from orchestrator.service.jobs import MAX_CHAIN
from orchestrator.spec.model import ID_PATTERN, HandlerName
from orchestrator.vocab import RunStatus
from orchestrator.wire.triggers import Job as Job
from orchestrator.wire.triggers import JobList as JobList
from orchestrator.wire.triggers import JobRow as JobRow
from orchestrator.wire.triggers import JobStep as JobStep
from orchestrator.wire.triggers import Promoted as Promoted


def _seconds(value: object) -> float:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


Seconds = Annotated[float, BeforeValidator(_seconds)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobRequest(BaseModel):
    """Body of ``POST /jobs``: one ``handler``, or a ``chain`` of handlers run one after
    the other, each getting the previous one's output (the first gets the payload)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    handler: HandlerName | None = Field(default=None, description="The handler to run")
    chain: list[HandlerName] | None = Field(
        default=None, min_length=1, max_length=MAX_CHAIN, description="Handlers run in order"
    )
    payload: dict[str, Any] = Field(
        default_factory=dict, description="The first handler's input (the run's parameters)"
    )
    priority: int | None = Field(default=None, ge=0, le=10, description="0 (low) to 10 (high)")
    retries: int | None = Field(default=None, ge=0, le=100, description="Retries per handler")
    timeout: Seconds | None = Field(
        default=None, gt=0, description="Timeout of each attempt: seconds or `30s`, `5m`"
    )
    delay: Seconds | None = Field(
        default=None, ge=0, description="Wait this long first: seconds or `30s`, `5m`"
    )
    runAt: IsoTime | None = Field(default=None, description="Run at this ISO 8601 time instead")
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.handler is None) == (self.chain is None):
            raise ValueError("give either handler (one job) or chain (a list of handlers)")
        if self.delay is not None and self.runAt is not None:
            raise ValueError("give a delay or a runAt time, not both")
        return self

    @property
    def handlers(self) -> list[str]:
        """The handlers to run, in order."""
        return [self.handler] if self.handler is not None else list(self.chain or [])


class JobPromotion(BaseModel):
    """Body of ``POST /jobs/{id}/promote``: the new workflow's id and name."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    workflowId: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    name: str | None = Field(default=None, min_length=1, max_length=256)


class JobListQuery(_In):
    """Filter and paging of ``GET /jobs``."""

    status: RunStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
