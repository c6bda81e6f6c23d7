"""``dagq jobs``: enqueue, chain, get, ls, cancel against the real API and a real worker."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli


async def test_enqueue_and_chain_with_wait(cli: Cli, worker: None) -> None:
    job = await cli(
        "jobs", "enqueue", "sendNotification", "--payload",
        '{"stored_count": 3, "store": "primary", "location": "s3://x"}', "--wait",
        role="operator",
    )  # fmt: skip
    assert job.exit_code == 0, job.output
    assert job.stdout.startswith("job run-")
    assert '"message": "3 records stored in primary at s3://x"' in job.stdout

    chained = await cli(
        "jobs", "chain", "fetchData", "validateData", "transformData",
        "--payload", '{"records": 40}', "--wait", "--json", role="operator",
    )  # fmt: skip
    assert chained.exit_code == 0, chained.output
    view = json.loads(chained.stdout)
    assert view["kind"] == "chain" and view["status"] == "completed"
    assert view["result"] == {"transformed_count": 38, "quality": 0.97}

    quick = await cli("jobs", "enqueue", "flaky", "--retries", "0", role="operator")
    assert quick.exit_code == 0, quick.output
    job_id = quick.stdout.strip()
    shown = await cli("jobs", "get", job_id, "--json")
    assert json.loads(shown.stdout)["handler"] == "flaky"

    listed = await cli("jobs", "ls", role="operator")
    assert listed.exit_code == 0, listed.output
    assert [line.split()[1] for line in listed.stdout.splitlines()[1:]] == [
        "job", "chain", "job"
    ]  # fmt: skip


async def test_a_failing_job_exits_1_and_bad_input_is_explained(cli: Cli, worker: None) -> None:
    failed = await cli("jobs", "enqueue", "flaky", "--retries", "0", "--wait", role="operator")
    assert failed.exit_code == 1, failed.output
    assert "failed" in failed.stdout and "flaky failure 1" in failed.stdout

    denied = await cli("jobs", "enqueue", "sendNotification", role="designer")
    assert denied.exit_code == 3 and "designers cannot enqueue jobs" in denied.stderr
    bad = await cli("jobs", "enqueue", "x", "--payload", "[1]", role="operator")
    assert bad.exit_code == 2 and "must be a JSON object" in bad.output
    late = await cli("jobs", "enqueue", "x", "--delay", "2d", role="operator")
    assert late.exit_code != 0 and "max_workflow_duration" in late.stderr
    assert "Traceback" not in late.output


async def test_cancel_a_waiting_job(cli: Cli) -> None:
    queued = await cli("jobs", "enqueue", "nobodyRunsThis", "--delay", "1h", role="operator")
    assert queued.exit_code == 0, queued.output
    job_id = queued.stdout.strip()
    shown = await cli("jobs", "get", job_id)
    assert "runs at" in shown.stdout
    cancelled = await cli("jobs", "cancel", job_id, role="operator")
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.stdout
    again = await cli("jobs", "cancel", job_id, role="operator")
    assert again.exit_code == 1 and "error [" in again.stderr
    missing = await cli("jobs", "get", "run-nope")
    assert missing.exit_code == 1 and "not found" in missing.stderr


async def test_promote_a_chain_to_a_workflow(cli: Cli, worker: None) -> None:
    chained = await cli(
        "jobs", "chain", "fetchData", "validateData", "--payload", '{"records": 40}',
        "--wait", "--json", role="operator",
    )  # fmt: skip
    job_id = json.loads(chained.stdout)["id"]
    shown = await cli("jobs", "promote", job_id, "--id", "ingest", role="operator")
    assert shown.exit_code == 0, shown.output
    assert "id: ingest" in shown.stdout and "handler: validateData" in shown.stdout
    saved = await cli("jobs", "promote", job_id, "--id", "ingest", "--save", role="admin")
    assert saved.stdout.strip() == f"ingest version 1 (promoted from {job_id})"
    listed = await cli("workflows", "ls", "--json")
    assert [w["id"] for w in json.loads(listed.stdout)["workflows"]] == ["ingest"]
    # The promoted workflow takes the chain's payload as its parameters, as the chain did.
    ran = await cli("runs", "start", "ingest", "--param", "records=20", "--wait", "--json")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["output"] == {"valid_count": 19, "invalid_count": 1}
    denied = await cli("jobs", "promote", job_id, "--id", "x", "--save", role="operator")
    assert denied.exit_code == 3 and "operators cannot create workflows" in denied.stderr
