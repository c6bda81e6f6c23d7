"""The seed's two examples end as the design intends, driven event by event and simulated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.engine.commands import Emit
from orchestrator.engine.simulate import simulate
from orchestrator.spec.graph import Graph, compile_graph
from orchestrator.spec.model import WorkflowSpec

from .helpers import Run, dispatched_nodes, finished

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> Graph:
    """A seed example as shipped in ``examples/``."""
    data: Any = yaml.safe_load((EXAMPLES / name).read_text())
    return compile_graph(WorkflowSpec.model_validate(data))


@pytest.mark.parametrize(
    ("quality", "stored", "not_stored"),
    [
        (0.99, "store_primary", "store_backup"),
        (0.95, "store_backup", "store_primary"),
        (0.2, "store_backup", "store_primary"),
    ],
)
def test_data_pipeline_stores_by_quality_and_always_notifies(
    quality: float, stored: str, not_stored: str
) -> None:
    run = Run(example("data-pipeline.yaml"))
    assert run.graph.spec.id == "data-processing-pipeline"
    assert dispatched_nodes(run.last) == ["fetch_data"]
    assert run.job("fetch_data").timeout_s == 60.0
    run.succeed("fetch_data", {"rows": 3})
    run.fail("validate", "flaky")  # retries: 2, so this is not the end
    run.fire("validate")
    run.succeed("validate", {"rows": 3, "valid": True})
    assert run.node("validate").attempts == 2
    cmds = run.succeed("transform", {"rows": 3, "quality": quality})
    assert run.status("quality_check") == "completed"
    assert dispatched_nodes(cmds) == [stored]
    assert run.status(not_stored) == "skipped"
    cmds = run.succeed(stored, {"stored_in": stored})
    assert dispatched_nodes(cmds) == ["notify"]
    assert run.job("notify").input == {"stored_in": stored}
    cmds = run.succeed("notify", {"notified": True})
    assert finished(cmds) == ["completed"]
    assert run.statuses() == {
        "fetch_data": "completed",
        "validate": "completed",
        "transform": "completed",
        "quality_check": "completed",
        stored: "completed",
        not_stored: "skipped",
        "notify": "completed",
    }


@pytest.mark.parametrize(("quality", "stored"), [(0.97, "store_primary"), (0.9, "store_backup")])
def test_data_pipeline_simulated(quality: float, stored: str) -> None:
    sim = simulate(example("data-pipeline.yaml"), outcomes={"transform": {"quality": quality}})
    assert sim.state.status == "completed"
    assert sim.state.nodes[stored].status == "completed"
    assert sim.state.nodes["notify"].status == "completed"
    assert sim.state.output == {"quality": quality}  # notify echoed its input


def test_data_pipeline_fails_when_validate_exhausts_its_three_attempts() -> None:
    sim = simulate(example("data-pipeline.yaml"), outcomes={"validate": "bad rows"})
    assert sim.state.status == "failed"
    assert sim.state.nodes["validate"].attempts == 3
    assert [str(e.type) for e in sim.events].count("node_retrying") == 2
    assert {sim.state.nodes[n].status for n in ("transform", "quality_check", "notify")} == {
        "cancelled"
    }


def _compensation_order(events: list[Emit]) -> list[str | None]:
    return [e.node for e in events if e.type == "node_compensated"]


def test_order_processing_compensates_in_reverse_when_shipping_fails() -> None:
    run = Run(example("order-processing.yaml"))
    # No edges: the tasks run in listed order; compensation nodes are not part of the flow.
    assert dispatched_nodes(run.last) == ["reserve_inventory"]
    run.succeed("reserve_inventory", {"reservation": "R-1"})
    run.succeed("charge_payment", {"charge": "C-1"})
    run.fail_for_good("ship_order", "carrier unavailable")
    assert run.run_status() == "compensating"
    assert dispatched_nodes(run.last) == ["refund_payment"]
    assert run.job("refund_payment").input == {"charge": "C-1"}
    run.succeed("refund_payment")
    assert dispatched_nodes(run.last) == ["release_inventory"]
    assert run.job("release_inventory").input == {"reservation": "R-1"}
    cmds = run.succeed("release_inventory")
    assert finished(cmds) == ["compensated"]
    assert _compensation_order([c for c in run.history if isinstance(c, Emit)]) == [
        "charge_payment",
        "reserve_inventory",
    ]
    assert run.statuses() == {
        "reserve_inventory": "compensated",
        "charge_payment": "compensated",
        "ship_order": "failed",
        "release_inventory": "completed",
        "refund_payment": "completed",
        "cancel_shipment": "skipped",
    }


def test_order_processing_simulated_with_a_failing_shipment() -> None:
    sim = simulate(example("order-processing.yaml"), outcomes={"ship_order": "no carrier"})
    assert sim.state.status == "compensated"
    assert _compensation_order(sim.events) == ["charge_payment", "reserve_inventory"]


def test_order_processing_happy_path_completes_without_compensating() -> None:
    sim = simulate(example("order-processing.yaml"))
    assert sim.state.status == "completed"
    assert [str(e.type) for e in sim.events].count("node_compensating") == 0
    assert {
        sim.state.nodes[n].status
        for n in ("release_inventory", "refund_payment", "cancel_shipment")
    } == {"skipped"}
