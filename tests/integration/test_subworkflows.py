"""Sub-workflow nodes end to end on a real Redis: a child run that completes, fails and is
retried, is cancelled with its parent, is compensated by a saga; refusals and loops."""

from __future__ import annotations

import asyncio
from typing import Any

from orchestrator.engine.state import RunState
from orchestrator.worker.registry import HandlerContext
from tests.integration.conftest import Stack, StackFactory

SHIPPING: dict[str, Any] = {
    "id": "shipping",
    "name": "shipping",
    "nodes": [{"id": "label", "type": "task", "handler": "label", "retries": 0}],
    "parameters": {"order_id": {"type": "string", "required": True}},
}


def order(**ship: Any) -> dict[str, Any]:
    node = {"id": "ship", "type": "subworkflow", "workflow": "shipping",
            "params": {"order_id": "params.order_id"}, "retries": 0, **ship}  # fmt: skip
    return {
        "id": "order",
        "name": "order",
        "nodes": [node, {"id": "notify", "type": "task", "handler": "notify"}],
        "edges": [{"source": "ship", "target": "notify"}],
        "parameters": {"order_id": {"type": "string", "default": "o-1"}},
    }


class Labels:
    """The child's handler: fails its first ``failures`` calls; waits for ``gate``."""

    def __init__(self) -> None:
        self.failures = 0
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.calls <= self.failures:
            raise RuntimeError(f"printer jammed ({self.calls})")
        return {"label": f"L-{ctx.params['order_id']}"}


async def _stack(make_stack: StackFactory, labels: Labels) -> Stack:
    stack = await make_stack()
    stack.registry.register("label", labels)

    @stack.handler("notify")
    async def notify(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"told": data.get("label")}

    @stack.handler("unship")
    async def unship(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"unshipped": data.get("run_id")}

    @stack.handler("charge")
    async def charge(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        raise RuntimeError("card declined")

    stack.start()
    await stack.workflow(SHIPPING)
    return stack


async def test_a_child_that_completes_gives_its_outputs_and_links_both_ways(
    make_stack: StackFactory,
) -> None:
    stack = await _stack(make_stack, Labels())
    await stack.workflow(order())
    parent = await stack.run("order", {"order_id": "o-7"})
    assert parent.status == "completed", parent.error
    ship = parent.nodes["ship"]
    assert ship.child is not None
    assert ship.output == {"label": "L-o-7", "run_id": ship.child}
    assert parent.nodes["notify"].output == {"told": "L-o-7"}
    child = await stack.service.get(ship.child)
    assert child.status == "completed" and child.workflow_id == "shipping"
    child_view = await stack.service.view(ship.child)
    assert child_view["parent"] == {"runId": parent.run_id, "nodeId": "ship"}
    parent_view = await stack.service.view(parent.run_id)
    assert parent_view["children"] == [ship.child]
    assert parent_view["nodes"]["ship"]["childRunId"] == ship.child


async def test_a_failed_child_fails_the_node_and_a_retry_starts_a_new_child(
    make_stack: StackFactory,
) -> None:
    labels = Labels()
    labels.failures = 1
    stack = await _stack(make_stack, labels)
    await stack.workflow(order(retries=1, retry_policy={"initial_interval": "10ms"}))
    parent = await stack.run("order")
    assert parent.status == "completed", parent.error
    assert parent.nodes["ship"].attempts == 2
    runs, _ = await stack.service.runs.run_ids(workflow_id="shipping")
    states = [await stack.service.get(r) for r in runs]
    assert sorted(s.status for s in states) == ["completed", "failed"]

    labels.calls, labels.failures = 0, 5
    await stack.workflow({**order(), "id": "order2", "name": "order2"})
    failed = await stack.run("order2")
    assert failed.status == "failed"
    assert failed.nodes["ship"].status == "failed"
    assert "printer jammed" in (failed.nodes["ship"].last_error or "")
    assert failed.nodes["notify"].status == "cancelled"


async def test_cancelling_the_parent_cancels_its_child(make_stack: StackFactory) -> None:
    labels = Labels()
    labels.gate = asyncio.Event()
    stack = await _stack(make_stack, labels)
    await stack.workflow(order())
    run = await stack.service.start("order", {})
    child: RunState | None = None

    async def child_running() -> bool:
        nonlocal child
        ship = (await stack.service.get(run.run_id)).nodes["ship"]
        if ship.child is None:
            return False
        child = await stack.service.get(ship.child)
        return child.nodes["label"].status == "running"

    await stack.until(child_running, timeout_s=20)
    assert child is not None
    await stack.service.cancel(run.run_id)
    ended = await stack.wait(child.run_id)
    assert ended.status == "cancelled"
    assert f"parent run {run.run_id}" in (ended.error or "")
    labels.gate.set()


async def test_a_saga_compensates_a_completed_subworkflow(make_stack: StackFactory) -> None:
    stack = await _stack(make_stack, Labels())
    spec = order(compensation="unship")
    spec["nodes"] = [
        spec["nodes"][0],
        {"id": "charge", "type": "task", "handler": "charge", "retries": 0},
        {"id": "unship", "type": "compensation", "handler": "unship"},
    ]
    spec["edges"] = [{"source": "ship", "target": "charge"}]
    spec["compensation_strategy"] = "saga"
    await stack.workflow(spec)
    parent = await stack.run("order")
    assert parent.status == "compensated"
    assert parent.nodes["ship"].status == "compensated"
    assert parent.nodes["unship"].output == {"unshipped": parent.nodes["ship"].child}


async def test_refusals_fail_the_node_with_the_reason(make_stack: StackFactory) -> None:
    stack = await _stack(make_stack, Labels())
    await stack.workflow(order(params={}))  # the child's order_id is required
    refused = await stack.run("order")
    assert refused.status == "failed"
    assert "sub-workflow shipping refused" in (refused.nodes["ship"].last_error or "")
    assert "order_id" in (refused.nodes["ship"].last_error or "")

    await stack.workflow({**order(workflow="nowhere"), "id": "order2", "name": "order2"})
    unknown = await stack.run("order2")
    assert "sub-workflow nowhere refused" in (unknown.nodes["ship"].last_error or "")


async def test_a_workflow_that_reaches_itself_at_run_time_is_refused(
    make_stack: StackFactory,
) -> None:
    stack = await _stack(make_stack, Labels())
    for me, other in (("ping", "pong"), ("pong", "ping")):
        await stack.workflow(
            {"id": me, "name": me,
             "nodes": [{"id": "call", "type": "subworkflow", "workflow": other, "retries": 0}]}
        )  # fmt: skip
    run = await stack.run("ping", timeout_s=30)
    assert run.status == "failed"
    # ping -> pong -> ping: the innermost request is refused, and the failure climbs back.
    assert "workflow ping reaches itself: ping -> pong -> ping" in (run.error or "")


async def test_the_depth_limit(make_stack: StackFactory) -> None:
    stack = await make_stack()
    wf = stack.settings.workflow
    limits = wf.resource_limits.model_copy(update={"max_subworkflow_depth": 1})
    stack.settings = stack.settings.model_copy(
        update={"workflow": wf.model_copy(update={"resource_limits": limits})}
    )

    @stack.handler("leaf")
    async def leaf(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"leaf": True}

    stack.start()
    leaf_node = {"id": "x", "type": "task", "handler": "leaf"}
    await stack.workflow({"id": "c", "name": "c", "nodes": [leaf_node]})
    for me, other in (("b", "c"), ("a", "b")):
        await stack.workflow(
            {"id": me, "name": me,
             "nodes": [{"id": "call", "type": "subworkflow", "workflow": other, "retries": 0}]}
        )  # fmt: skip
    assert (await stack.run("b")).status == "completed"  # b -> c: depth 1
    deep = await stack.run("a")  # a -> b -> c: depth 2
    assert deep.status == "failed"
    assert "the limit is 1 (resource_limits.max_subworkflow_depth)" in (deep.error or "")
