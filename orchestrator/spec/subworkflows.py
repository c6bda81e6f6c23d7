"""Checks of sub-workflow nodes that need only the spec: a workflow that calls itself,
and child parameters that do not parse.  A longer loop (A calls B calls A) shows only
when the runs start: the engine refuses it there (the run's ancestry)."""

from __future__ import annotations

from orchestrator.spec.expressions import ExpressionError, check_expression
from orchestrator.spec.loader import SpecIssue
from orchestrator.spec.model import MapNode, SubworkflowNode, WorkflowSpec


def subworkflow_issues(spec: WorkflowSpec) -> list[SpecIssue]:
    """Errors of the spec's sub-workflow nodes, in node order."""
    issues: list[SpecIssue] = []
    for index, node in enumerate(spec.nodes):
        if not isinstance(node, SubworkflowNode | MapNode) or node.workflow is None:
            continue
        if node.workflow == spec.id:
            issues.append(
                SpecIssue(
                    "SUBWORKFLOW_SELF",
                    f"{node.type} '{node.id}' starts workflow '{spec.id}', the workflow it is "
                    "in: it would start itself without end",
                    node_id=node.id,
                    path=f"nodes[{index}].workflow",
                )
            )
        for name, text in (node.params or {}).items():
            try:
                check_expression(text)
            except ExpressionError as exc:
                issues.append(
                    SpecIssue(
                        "BAD_EXPRESSION",
                        f"{node.type} '{node.id}': parameter {name} {text!r} is not allowed: "
                        f"{exc.message}",
                        node_id=node.id,
                        path=f"nodes[{index}].params.{name}",
                    )
                )
    return issues
