"""The batch example over the CLI: a map starting a sub-workflow per record, its progress
line in ``dagq runs get``, and the child runs linked to their parent."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.usefixtures("worker")


async def test_batch_example_shows_the_maps_progress(cli: Cli) -> None:
    for name in ("enrich-record.yaml", "batch-records.yaml"):  # the child, then the batch
        pushed = await cli("workflows", "push", str(EXAMPLES / name), role="designer")
        assert pushed.exit_code == 0, pushed.output
    done = await cli(
        "runs", "start", "batch-records", "--param", "count=10", "--param", "bad_every=5",
        "--wait", role="operator",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "per_record 10/10 (2 failed)" in done.stdout.splitlines()
    run_id = done.stdout.split()[1]
    got = await cli("runs", "get", run_id, role="operator")
    assert "per_record 10/10 (2 failed)" in got.stdout.splitlines()
    view = json.loads((await cli("runs", "get", run_id, "--json", role="operator")).stdout)
    assert view["nodes"]["summarize"]["output"] == {"processed": 8, "failed": 2, "best": 96}
    assert view["nodes"]["alert"]["status"] == "completed"  # both inclusive branches ran
    assert view["nodes"]["archive"]["status"] == "completed"
    assert len(view["children"]) == 10  # one enrich-record run per record
    items = view["nodes"]["per_record"]["output"]["results"]
    child_id = items[0]["run_id"]
    child = json.loads((await cli("runs", "get", child_id, "--json", role="operator")).stdout)
    assert child["workflowId"] == "enrich-record"
    assert child["parent"] == {"runId": run_id, "nodeId": "per_record[0]"}
    assert child["parameters"]["record"] == {"id": 0, "bad": False}
    shown = await cli("runs", "get", child_id, role="operator")
    assert f"sub-workflow of run {run_id} (node per_record[0])" in shown.stdout
    assert "sub-workflow runs: 10" in got.stdout

    failing = await cli(
        "runs", "start", "batch-records", "--param", "count=9", "--param", "bad_every=3",
        "--wait", role="operator",
    )  # fmt: skip
    assert failing.exit_code == 1
    assert "3 of 9 items failed, more than tolerate_failures (2)" in failing.stdout
