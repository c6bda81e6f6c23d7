"""Judging a workflow spec as this deployment would: the validator plus its limits.

The validator knows graphs; a deployment also has resource limits
(``workflow.resource_limits``): no node may ask for more retries than
``max_retry_attempts`` and no workflow for more parallelism than
``max_parallel_executions``.  Both are reported as validation errors, with codes.
The API refuses what fails here, and ``dagq validate`` and the designer judge with
the same functions, so all three report the same problems.
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import SpecInvalid
from orchestrator.settings import Settings
from orchestrator.spec.loader import SpecIssue
from orchestrator.spec.model import MapNode, RunnableNode, WorkflowSpec
from orchestrator.spec.validator import (
    ValidationResult,
    validate_and_build,
    validate_spec,
    validate_text,
)


def limit_issues(spec: WorkflowSpec, settings: Settings) -> tuple[list[SpecIssue], list[SpecIssue]]:
    """Errors and warnings of ``spec`` against the configured resource limits."""
    limits = settings.limits
    errors: list[SpecIssue] = []
    warnings: list[SpecIssue] = []
    max_retries = limits.max_retry_attempts
    for node in spec.nodes:
        retries = node.retries if isinstance(node, RunnableNode | MapNode) else None
        if isinstance(node, MapNode) and (node.max_items or 0) > limits.max_map_items:
            errors.append(
                SpecIssue(
                    "TOO_MANY_ITEMS",
                    f"map '{node.id}' allows {node.max_items} items; this deployment allows "
                    f"at most {limits.max_map_items} (resource_limits.max_map_items)",
                    node_id=node.id,
                    path=f"nodes.{node.id}.max_items",
                )
            )
        if retries is not None and retries > max_retries:
            errors.append(
                SpecIssue(
                    "TOO_MANY_RETRIES",
                    f"node '{node.id}' asks for {retries} retries; this deployment "
                    f"allows at most {max_retries} (resource_limits.max_retry_attempts)",
                    node_id=node.id,
                    path=f"nodes.{node.id}.retries",
                )
            )
    config = spec.config
    if config.max_retries is not None and config.max_retries > max_retries:
        errors.append(
            SpecIssue(
                "TOO_MANY_RETRIES",
                f"config.max_retries is {config.max_retries}; this deployment allows at most "
                f"{max_retries} (resource_limits.max_retry_attempts)",
                path="config.max_retries",
            )
        )
    parallel = limits.max_parallel_executions
    if config.concurrency_limit is not None and config.concurrency_limit > parallel:
        errors.append(
            SpecIssue(
                "TOO_PARALLEL",
                f"config.concurrency_limit is {config.concurrency_limit}; this deployment runs "
                f"at most {parallel} nodes of a run at once "
                "(resource_limits.max_parallel_executions)",
                path="config.concurrency_limit",
            )
        )
    longest = limits.max_workflow_duration
    if config.max_execution_time is not None and config.max_execution_time > longest:
        warnings.append(
            SpecIssue(
                "DURATION_CAPPED",
                f"config.max_execution_time is {config.max_execution_time:g} s; runs are "
                f"stopped after {longest:g} s (resource_limits.max_workflow_duration)",
                path="config.max_execution_time",
            )
        )
    run_s = min(longest, config.max_execution_time or longest)
    for node in spec.nodes:
        wait_s = getattr(node, "timeout", None) if node.type in ("approval", "signal") else None
        if wait_s is not None and wait_s > run_s:
            warnings.append(
                SpecIssue(
                    "WAIT_OUTLIVES_RUN",
                    f"{node.type} '{node.id}' waits up to {wait_s:g} s, but its runs are "
                    f"stopped after {run_s:g} s (resource_limits.max_workflow_duration, or "
                    "config.max_execution_time): raise it for workflows that wait for people",
                    node_id=node.id,
                    path=f"nodes.{node.id}.timeout",
                )
            )
    return errors, warnings


def judge(raw: Any, settings: Settings) -> tuple[ValidationResult, WorkflowSpec | None]:
    """Validate parsed JSON as a spec; the spec is returned only when it is valid."""
    max_nodes = settings.execution.max_nodes_per_workflow
    result, spec = validate_and_build(raw, max_nodes=max_nodes)
    if spec is None:
        return result, None
    return _with_limits(result, spec, settings)


def judge_spec(
    spec: WorkflowSpec, settings: Settings
) -> tuple[ValidationResult, WorkflowSpec | None]:
    """Validate a built spec against the graph rules and the limits."""
    result = validate_spec(spec, max_nodes=settings.execution.max_nodes_per_workflow)
    return _with_limits(result, spec, settings)


def judge_text(
    text: str, filename: str, settings: Settings, *, max_nodes: int | None = None
) -> tuple[ValidationResult, WorkflowSpec | None]:
    """Parse and judge a YAML/JSON document (never raises for bad input).

    As :func:`~orchestrator.spec.validator.validate_text`, the spec is returned whenever
    the model could be built, even when checks failed: check ``result.valid``.
    """
    limit = max_nodes if max_nodes is not None else settings.execution.max_nodes_per_workflow
    result, spec = validate_text(text, filename, max_nodes=limit)
    if spec is None:
        return result, None
    judged, _ = _with_limits(result, spec, settings)
    return judged, spec


def judge_data(raw: Any, settings: Settings) -> ValidationResult:
    """Everything wrong with parsed data (the designer's Problems); never raises."""
    return judge(raw, settings)[0]


def _with_limits(
    result: ValidationResult, spec: WorkflowSpec, settings: Settings
) -> tuple[ValidationResult, WorkflowSpec | None]:
    errors, warnings = limit_issues(spec, settings)
    if errors or warnings:
        result = ValidationResult((*result.errors, *errors), (*result.warnings, *warnings))
    return result, (spec if result.valid else None)


def require_valid(raw: Any, settings: Settings) -> WorkflowSpec:
    """The spec in ``raw``; :class:`SpecInvalid` (422) with every error and warning if not."""
    result, spec = judge(raw, settings)
    if spec is None:
        result.raise_if_invalid("workflow")
        raise SpecInvalid("the workflow specification is invalid")  # unreachable: no errors
    return spec
