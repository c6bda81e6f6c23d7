"""The union of every node kind, and the tables derived from it.

A new kind is a class in the module of its family (``tasks``, ``control``, ``waiting``,
``composite``) joined to ``AnyNode`` here; ``NODE_TYPES``, ``NODE_CLASS``,
``RUNNABLE_TYPES`` and the discriminated ``Node`` follow from the classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, get_args

from pydantic import Field

from orchestrator.spec.model.base import _NodeBase
from orchestrator.spec.model.composite import MapNode, SubworkflowNode
from orchestrator.spec.model.control import DecisionNode, ExclusiveNode, InclusiveNode, ParallelNode
from orchestrator.spec.model.tasks import CompensationNode, RunnableNode, TaskNode
from orchestrator.spec.model.waiting import ApprovalNode, DelayNode, SignalNode

AnyNode = (
    TaskNode
    | DecisionNode
    | ExclusiveNode
    | InclusiveNode
    | ParallelNode
    | DelayNode
    | CompensationNode
    | MapNode
    | SubworkflowNode
    | ApprovalNode
    | SignalNode
)
"""Every node kind: a new kind is a class of its family's module, added here (and nowhere
else in the spec)."""
Node = Annotated[AnyNode, Field(discriminator="type")]
NODE_CLASSES: tuple[type[_NodeBase], ...] = get_args(AnyNode)


def _type_of(cls: type[_NodeBase]) -> str:
    (kind,) = get_args(cls.model_fields["type"].annotation)
    return str(kind)


NODE_TYPES: tuple[str, ...] = tuple(_type_of(cls) for cls in NODE_CLASSES)
"""The node types, in the union's order (derived from each class's ``type`` literal)."""
NODE_CLASS: Mapping[str, type[_NodeBase]] = MappingProxyType(
    {_type_of(cls): cls for cls in NODE_CLASSES}
)
"""Node type -> its pydantic class."""
RUNNABLE_TYPES: tuple[str, ...] = tuple(
    kind for kind, cls in NODE_CLASS.items() if issubclass(cls, RunnableNode)
)
"""Node types that run a handler on a worker."""
