"""The workflow specification: pydantic v2 models of a DAG of typed nodes.

Snake_case is the canonical form (what export writes); camelCase keys of the
upstream reference (``retryBackoff``, ``compensationNode``, ``joinStrategy``, a node's
nested ``config``...) are accepted on input and normalised by ``_normalise_node``.

Structural problems (wrong types, a bad duration or cron, a delay with both or
neither of duration/cron) fail model construction with pydantic errors whose
``type`` is one of the validator's codes in lower case (``bad_duration``,
``bad_cron``, ``delay_spec``); graph problems are the validator's business.

The package's modules: ``base`` (field types, validators, the node base class), one
module per family of node kinds (``tasks``: handlers on workers; ``control``: routing;
``waiting``: delays, approvals, signals; ``composite``: maps and sub-workflows),
``nodes`` (the union of the kinds and the tables derived from it) and ``workflow``
(edges, parameters, settings, the spec itself).  Import from here.
"""

from __future__ import annotations

from orchestrator.spec.model.base import (
    HANDLER_PATTERN,
    ID_PATTERN,
    MAX_EXPRESSION_LENGTH,
    ByteSize,
    Cron,
    Duration,
    Expression,
    HandlerName,
    NodeId,
    Position,
    Resources,
    RetryPolicy,
    Timeout,
)
from orchestrator.spec.model.composite import MapNode, SubworkflowNode
from orchestrator.spec.model.control import DecisionNode, ExclusiveNode, InclusiveNode, ParallelNode
from orchestrator.spec.model.nodes import (
    NODE_CLASS,
    NODE_CLASSES,
    NODE_TYPES,
    RUNNABLE_TYPES,
    AnyNode,
    Node,
)
from orchestrator.spec.model.tasks import CompensationNode, RunnableNode, TaskNode
from orchestrator.spec.model.waiting import (
    ApprovalNode,
    Approvers,
    DelayNode,
    SignalName,
    SignalNode,
    UserName,
)
from orchestrator.spec.model.workflow import (
    Edge,
    Notify,
    NotifyOn,
    Parameter,
    WorkflowConfig,
    WorkflowSpec,
    slugify,
)

__all__ = [
    "HANDLER_PATTERN",
    "ID_PATTERN",
    "MAX_EXPRESSION_LENGTH",
    "NODE_CLASS",
    "NODE_CLASSES",
    "NODE_TYPES",
    "RUNNABLE_TYPES",
    "AnyNode",
    "ApprovalNode",
    "Approvers",
    "ByteSize",
    "CompensationNode",
    "Cron",
    "DecisionNode",
    "DelayNode",
    "Duration",
    "Edge",
    "ExclusiveNode",
    "Expression",
    "HandlerName",
    "InclusiveNode",
    "MapNode",
    "Node",
    "NodeId",
    "Notify",
    "NotifyOn",
    "ParallelNode",
    "Parameter",
    "Position",
    "Resources",
    "RetryPolicy",
    "RunnableNode",
    "SignalName",
    "SignalNode",
    "SubworkflowNode",
    "TaskNode",
    "Timeout",
    "UserName",
    "WorkflowConfig",
    "WorkflowSpec",
    "slugify",
]
