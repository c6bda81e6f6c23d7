"""Compiled graphs of pinned workflow versions, cached: versions never change."""

from __future__ import annotations

from collections import OrderedDict

from orchestrator.spec.graph import Graph, compile_graph
from orchestrator.store.workflows import WorkflowStore


class SpecCache:
    """``(workflow id, version) -> Graph``; least recently used entries are dropped."""

    def __init__(self, workflows: WorkflowStore, *, size: int = 2048) -> None:
        self.workflows = workflows
        self.size = size
        self._graphs: OrderedDict[tuple[str, int], Graph] = OrderedDict()

    async def graph(self, workflow_id: str, version: int) -> Graph:
        """The compiled graph of one version; ``NotFound`` when it does not exist."""
        key = (workflow_id, version)
        graph = self._graphs.get(key)
        if graph is not None:
            self._graphs.move_to_end(key)
            return graph
        stored = await self.workflows.get_version(workflow_id, version)
        graph = compile_graph(stored.spec)
        self._graphs[key] = graph
        if len(self._graphs) > self.size:
            self._graphs.popitem(last=False)
        return graph
