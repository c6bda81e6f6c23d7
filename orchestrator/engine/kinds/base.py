"""What every node kind answers; the defaults are those of a node that runs no handler."""

from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.engine.state import NodeState
from orchestrator.engine.tx import Tx
from orchestrator.spec.model import AnyNode


class Kind:
    """The rules of one node kind (one instance per kind, in :data:`KINDS`)."""

    runnable: ClassVar[bool] = False
    """Its attempts run a handler on a worker (a job on a queue)."""
    skippable: ClassVar[bool] = False
    """A retry may be asked to skip it (``skipNodes``)."""

    def ready(self, tx: Tx, node_id: str, data: dict[str, Any]) -> None:
        """Its inputs are there (``data``: its predecessors' merged outputs): act."""
        raise NotImplementedError

    def join_need(self, node: AnyNode, edges: int) -> int | None:
        """How many of its ``edges`` incoming edges must be taken (None: every settled
        edge, at least one taken; the default rule)."""
        return None

    def timer(self, tx: Tx, node_id: str, state: NodeState) -> None:
        """A timer set for it is due (the caller checked the token): nothing by default."""
