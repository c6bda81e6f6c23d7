"""Engine limits and defaults, resolved from settings and a workflow's own config."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.engine.retry import RetryRule
from orchestrator.settings import Settings
from orchestrator.spec.model import AnyNode, MapNode, RunnableNode, SubworkflowNode, WorkflowSpec


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What the transitions need to know beyond the spec."""

    default_timeout_s: float = 300.0
    retry: RetryRule = field(default_factory=lambda: RetryRule(max_attempts=3))
    max_retry_attempts: int = 5
    """Cap on any node's retries (attempts = retries + 1)."""
    max_parallel: int = 10
    """Nodes of one run that may be queued or running at once."""
    max_duration_s: float = 3600.0
    """A run still active after this long fails."""
    max_map_items: int = 10_000
    """Most items a map node may fan out to."""
    max_subworkflow_depth: int = 5
    """Sub-workflow nesting a run may reach (its own run is depth 0)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        """The configuration in force for ``settings``."""
        ex = settings.execution
        rp = ex.retry_policy
        return cls(
            default_timeout_s=ex.default_timeout,
            retry=RetryRule(
                max_attempts=rp.max_attempts,
                backoff=rp.backoff,
                initial_s=rp.initial_interval,
                max_s=rp.max_interval,
                multiplier=rp.multiplier,
                jitter=rp.jitter,
            ),
            max_retry_attempts=settings.limits.max_retry_attempts,
            max_parallel=settings.limits.max_parallel_executions,
            max_duration_s=settings.limits.max_workflow_duration,
            max_map_items=settings.limits.max_map_items,
            max_subworkflow_depth=settings.limits.max_subworkflow_depth,
        )

    def max_duration_for(self, spec: WorkflowSpec) -> float:
        """A workflow may shorten the maximum duration, never extend it."""
        own = spec.config.max_execution_time
        return min(own, self.max_duration_s) if own is not None else self.max_duration_s

    def max_parallel_for(self, spec: WorkflowSpec) -> int:
        """A workflow may lower its parallelism, never raise it past the limit."""
        own = spec.config.concurrency_limit
        return min(own, self.max_parallel) if own is not None else self.max_parallel

    def rule_for(self, spec: WorkflowSpec, node: AnyNode) -> RetryRule:
        """The retry rule of a runnable node; gateways and delays never retry."""
        if not isinstance(node, RunnableNode | MapNode | SubworkflowNode):
            return RetryRule(max_attempts=1)
        if node.retries is not None:
            retries = node.retries
        elif spec.config.max_retries is not None:
            retries = spec.config.max_retries
        else:
            retries = self.retry.max_attempts - 1
        retries = max(0, min(retries, self.max_retry_attempts))
        policy = node.retry_policy
        if policy is None:
            return RetryRule(
                max_attempts=retries + 1,
                backoff=self.retry.backoff,
                initial_s=self.retry.initial_s,
                max_s=self.retry.max_s,
                multiplier=self.retry.multiplier,
                jitter=self.retry.jitter,
            )
        return RetryRule(
            max_attempts=retries + 1,
            backoff=policy.backoff,
            initial_s=policy.initial_interval,
            max_s=policy.max_interval,
            multiplier=policy.multiplier,
            jitter=policy.jitter,
        )

    def timeout_for(self, node: AnyNode) -> float:
        """Seconds one attempt of a runnable node (or of a map's item) may take."""
        if isinstance(node, RunnableNode | MapNode) and node.timeout is not None:
            return node.timeout
        return self.default_timeout_s
