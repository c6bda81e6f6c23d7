"""The validator's checks of a saga: compensation nodes, their links to the tasks they
undo, and the workflow's compensation strategy (see :mod:`orchestrator.engine.saga`)."""

from __future__ import annotations

from orchestrator.spec.check_base import COMPENSABLE, CheckerBase, quoted


class SagaChecks(CheckerBase):
    """Compensation links and wiring, the saga's coverage and unused compensations."""

    def compensation_links(self, *, types_known: bool) -> None:
        for node in self.nodes:
            link, field, want = (
                (node.compensation, "compensation", "compensation")
                if node.type in COMPENSABLE
                else (node.compensates, "compensates", "task")
            )
            if link is None:
                continue
            target = self.by_id.get(link)
            where = {"node_id": node.id, "path": f"nodes[{node.index}].{field}"}
            if target is None:
                self.error(
                    "UNKNOWN_NODE",
                    f"node '{node.id}' has {field}: '{link}', which is not a node of this workflow",
                    **where,
                )
            elif (
                types_known
                and target.type != want
                and not (want == "task" and target.type in COMPENSABLE)
            ):
                self.error(
                    "COMPENSATION_TARGET",
                    f"{node.type} '{node.id}' names '{link}' in {field}, but '{link}' is a "
                    f"{target.type} node, not a {want} node",
                    **where,
                )

    def compensation_wiring(self) -> None:
        for edge in self.edges:
            for end in (edge.source, edge.target):
                node = self.by_id.get(end)
                if node is not None and node.type == "compensation":
                    self.error(
                        "COMPENSATION_TARGET",
                        f"compensation node '{end}' is wired into the forward graph by edge "
                        f"{edge.text}; compensation nodes run only when a saga rolls back, so "
                        "link them with compensation/compensates instead of edges",
                        node_id=end,
                        edge_id=edge.id,
                        path=edge.path,
                    )
                    break
        claims: dict[str, set[str]] = {}  # compensation node -> tasks linked to it
        for node in self.nodes:
            comp = self.by_id.get(node.compensation or "") if node.type in COMPENSABLE else None
            if comp is not None and comp.type == "compensation":
                claims.setdefault(comp.id, set()).add(node.id)
            task = self.by_id.get(node.compensates or "") if node.type == "compensation" else None
            if task is not None and task.type in COMPENSABLE:
                claims.setdefault(node.id, set()).add(task.id)
        for comp_id, tasks in claims.items():
            if len(tasks) > 1:
                names = sorted(tasks, key=lambda t: self.by_id[t].index)
                self.error(
                    "COMPENSATION_TARGET",
                    f"compensation node '{comp_id}' is linked to tasks {quoted(names)} "
                    "(by compensation on a task or compensates on the node); the links "
                    "disagree: each task needs its own compensation node",
                    node_id=comp_id,
                )
        self.compensated = {t for tasks in claims.values() for t in tasks}
        self.linked = set(claims)

    def saga(self, strategy: str) -> None:
        comps = [n for n in self.nodes if n.type == "compensation"]
        if strategy == "saga":
            for node in self.nodes:
                if node.type == "task" and node.id not in self.compensated:
                    self.warn(
                        "MISSING_COMPENSATION",
                        f"task '{node.id}' has no compensation; if a later step fails, what it "
                        "did is not undone",
                        node.id,
                        f"add a compensation node with compensates: {node.id}",
                    )
        elif comps:
            self.warn(
                "COMPENSATION_UNUSED",
                f"compensation nodes {quoted([c.id for c in comps])} never run because "
                f"compensation_strategy is '{strategy}'",
                comps[0].id,
                "set compensation_strategy: saga",
            )
        for comp in comps:
            if comp.id not in self.linked and comp.compensates is None:
                self.warn(
                    "ORPHAN_COMPENSATION",
                    f"compensation node '{comp.id}' is not linked to any task, so it never runs",
                    comp.id,
                    f"set compensates: <task id> on '{comp.id}', or compensation: {comp.id} "
                    "on the task it undoes",
                )

    def compensation_strategies(self) -> None:
        """``strategy: manual`` (the reference's) is accepted, but dagq runs it anyway."""
        for node in self.nodes:
            if node.type == "compensation" and node.strategy == "manual":
                self.warn(
                    "COMPENSATION_STRATEGY",
                    f"compensation node '{node.id}' has strategy manual, but dagq runs every "
                    "compensation itself when a saga rolls back",
                    node.id,
                    "leave strategy out (immediate), or leave the node out and undo by hand",
                )
