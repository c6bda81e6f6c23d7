"""``dagq runs``: start --wait, get, ls, watch to completion, cancel, retry --from-node."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from tests.api.test_client import _dropping_proxy as dropping_proxy
from tests.cli.conftest import EXAMPLES, Cli, Flaky
from tests.conftest import until

PIPELINE = "data-processing-pipeline"
ORDERS = "order-processing"

pytestmark = pytest.mark.usefixtures("worker")


async def push(cli: Cli, path: Path) -> None:
    result = await cli("workflows", "push", str(path), role="designer")
    assert result.exit_code == 0, result.output


def write_spec(tmp_path: Path, name: str, handler: str) -> Path:
    """A two-node workflow ``prepare -> work`` whose second node runs ``handler`` once."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"id: {name}\nname: {name}\nnodes:\n"
        "  - {id: prepare, type: task, handler: fetchData}\n"
        f"  - {{id: work, type: task, handler: {handler}, retries: 0}}\n"
        "edges:\n  - {source: prepare, target: work}\n"
    )
    return path


async def test_start_wait_get_and_ls(cli: Cli) -> None:
    await push(cli, EXAMPLES / "data-pipeline.yaml")
    done = await cli(
        "runs", "start", PIPELINE, "--param", "quality=0.5", "--param", "records=40",
        "--wait", role="operator",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    head, *table = done.stdout.splitlines()
    assert head.startswith("run ") and f"{PIPELINE} v1  completed" in head
    nodes = {line.split()[0]: line.split()[1:3] for line in table[1:]}
    assert nodes["store_backup"] == ["completed", "1"]
    assert nodes["store_primary"][0] == "skipped"
    assert table[0].split() == ["NODE", "STATUS", "ATTEMPTS", "DURATION", "LAST", "ERROR"]
    run_id = head.split()[1]

    view = json.loads((await cli("runs", "get", run_id, "--json", role="operator")).stdout)
    assert view["parameters"]["records"] == 40 and view["parameters"]["quality"] == 0.5
    assert view["nodes"]["validate"]["output"] == {"valid_count": 38, "invalid_count": 2}

    started = await cli("runs", "start", PIPELINE, "--params", '{"records": 5}', "--json")
    second = json.loads(started.stdout)["runId"]
    listed = await cli("runs", "ls", "--workflow", PIPELINE, role="operator")
    assert listed.stdout.splitlines()[0].split()[:4] == ["RUN", "WORKFLOW", "VERSION", "STATUS"]
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == [second, run_id]
    completed = json.loads((await cli("runs", "ls", "--status", "completed", "--json")).stdout)
    assert run_id in [r["runId"] for r in completed["runs"]]


async def test_start_refuses_bad_parameters(cli: Cli) -> None:
    await push(cli, EXAMPLES / "data-pipeline.yaml")
    not_json = await cli("runs", "start", PIPELINE, "--params", "{oops")
    assert not_json.exit_code == 2 and "--params" in not_json.stderr
    not_pair = await cli("runs", "start", PIPELINE, "--param", "quality")
    assert not_pair.exit_code == 2 and "NAME=VALUE" in not_pair.stderr
    designer = await cli("runs", "start", PIPELINE, role="designer")
    assert designer.exit_code == 3
    assert "designers cannot start runs (workflow:execute)" in designer.stderr
    missing = await cli("runs", "start", "no-such-workflow")
    assert missing.exit_code == 1 and "[NOT_FOUND]" in missing.stderr


async def test_watch_follows_a_run_to_completion(cli: Cli) -> None:
    await push(cli, EXAMPLES / "data-pipeline.yaml")
    started = await cli("runs", "start", PIPELINE, "--param", "delay_s=0.05", role="operator")
    run_id = started.stdout.strip()
    watched = await cli("runs", "watch", run_id, role="operator")
    assert watched.exit_code == 0, watched.output
    lines = watched.stdout.splitlines()
    kinds = [line.split()[2] for line in lines if line[:2].isdigit()]
    assert kinds[0] == "run_started" and kinds[-1] == "run_completed"
    assert kinds.count("node_completed") == 6 and kinds.count("node_skipped") == 1
    assert any(line.split()[1:3] == ["notify", "node_started"] for line in lines)
    assert "[run completed] 6/7 completed, 0 running, 0 failed, 1 skipped" in lines
    assert lines[-1].startswith(f"run {run_id}  {PIPELINE} v1  completed")

    events = await cli("runs", "watch", run_id, "--json", role="operator")
    parsed = [json.loads(line) for line in events.stdout.splitlines()]
    assert [e["type"] for e in parsed] == kinds
    assert events.exit_code == 0


async def test_failed_run_retry_from_node_then_watch(
    cli: Cli, tmp_path: Path, flaky: Flaky
) -> None:
    await push(cli, write_spec(tmp_path, "flaky-flow", "flaky"))
    failed = await cli("runs", "start", "flaky-flow", "--wait")
    assert failed.exit_code == 1
    assert failed.stdout.splitlines()[1].startswith("error: node work failed")
    run_id = failed.stdout.split()[1]
    work = next(line for line in failed.stdout.splitlines() if line.startswith("work "))
    assert work.split()[1:3] == ["failed", "1"] and work.endswith("flaky failure 1")

    retried = await cli("runs", "retry", run_id, "--from-node", "work", "--wait", "--json")
    assert retried.exit_code == 0, retried.output
    view = json.loads(retried.stdout)
    assert view["status"] == "completed" and view["nodes"]["work"]["output"] == {"calls": 2}
    assert view["nodes"]["prepare"]["attempts"] == 1  # not rerun
    assert flaky.calls[run_id] == 2

    # Watching a retried run goes past its first ending to the last one.
    watched = await cli("runs", "watch", run_id, role="operator")
    assert watched.exit_code == 0, watched.output
    kinds = [line.split()[2] for line in watched.stdout.splitlines() if line[:2].isdigit()]
    assert kinds.index("run_failed") < kinds.index("run_retried") < kinds.index("run_completed")
    assert kinds[-1] == "run_completed"

    again = await cli("runs", "retry", run_id)
    assert again.exit_code == 1 and "[CONFLICT]" in again.stderr
    unknown = await cli("runs", "retry", run_id, "--from-node", "nope")
    assert unknown.exit_code == 1
    assert (await cli("runs", "retry", run_id, "--only-node")).exit_code == 2


async def test_retry_skipping_the_failed_node(cli: Cli, tmp_path: Path, flaky: Flaky) -> None:
    await push(cli, write_spec(tmp_path, "skip-flow", "flaky"))
    failed = await cli("runs", "start", "skip-flow", "--wait")
    assert failed.exit_code == 1
    run_id = failed.stdout.split()[1]
    unknown = await cli("runs", "retry", run_id, "--skip", "nope")
    assert unknown.exit_code == 1 and "nope" in unknown.stderr

    retried = await cli("runs", "retry", run_id, "--skip", "work", "--wait", "--json")
    assert retried.exit_code == 0, retried.output
    view = json.loads(retried.stdout)
    assert view["status"] == "completed"
    assert view["nodes"]["work"]["status"] == "skipped"
    assert flaky.calls[run_id] == 1  # the failed handler was not called again


async def test_cancel_a_waiting_run_and_watch_it_end(cli: Cli, tmp_path: Path) -> None:
    # Nobody offers `nobodyHandles`: the run waits on its second node until cancelled.
    await push(cli, write_spec(tmp_path, "stuck", "nobodyHandles"))
    run_id = (await cli("runs", "start", "stuck")).stdout.strip()
    assert (await cli("runs", "cancel", run_id, role="designer")).exit_code == 3
    cancelled = await cli("runs", "cancel", run_id, role="operator")
    assert (cancelled.exit_code, cancelled.stdout.strip()) == (0, f"{run_id}: cancelled")
    watched = await cli("runs", "watch", run_id)
    assert watched.exit_code == 1
    assert "run_cancelled" in watched.stdout
    twice = await cli("runs", "cancel", run_id)
    assert twice.exit_code == 1 and "[CONFLICT]" in twice.stderr
    missing = await cli("runs", "get", "run-nope")
    assert missing.exit_code == 1 and "[NOT_FOUND]" in missing.stderr


async def test_watch_through_a_dropped_connection_loses_and_repeats_nothing(
    cli: Cli, tmp_path: Path, flaky: Flaky
) -> None:
    # The run waits in `work` until the watch is live on the stream, so its last events
    # come over the stream the proxy cuts.
    flaky.failures, flaky.gate = 0, threading.Event()
    await push(cli, write_spec(tmp_path, "gated", "flaky"))
    run_id = (await cli("runs", "start", "gated")).stdout.strip()
    proxy, cut, opened = await dropping_proxy(cli.api.base_url)
    try:
        watching = asyncio.create_task(
            cli(
                "runs", "watch", run_id, "--api", str(proxy.make_url("")).rstrip("/"),
                "--key", cli.api.keys["operator"], role=None,
            )
        )  # fmt: skip

        async def live_or_done() -> bool:
            return bool(opened) or watching.done()

        await until(live_or_done, "the watch to go live")
        flaky.gate.set()
        through = await watching
    finally:
        flaky.gate.set()
        await proxy.close()
    direct = await cli("runs", "watch", run_id)
    assert cut == [True]  # the first event stream really was cut short
    assert (through.exit_code, through.stdout) == (0, direct.stdout)
    assert "reconnecting (attempt 1)" in through.stderr
