"""``dagq schedules`` and ``schedules:`` in a pushed file, ``runs start --idempotency-key``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.conftest import EXAMPLES, Cli

PIPELINE = "data-processing-pipeline"


async def _push_with_schedules(cli: Cli, tmp_path: Path) -> None:
    doc = yaml.safe_load((EXAMPLES / "data-pipeline.yaml").read_text())
    doc["schedules"] = [
        {"id": "hourly", "cron": "0 * * * *", "timezone": "Europe/Berlin", "overlap": "allow"}
    ]
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(doc))
    pushed = await cli("workflows", "push", str(path), role="designer")
    assert pushed.exit_code == 0, pushed.output
    assert "schedule hourly applied" in pushed.stdout


async def test_schedules_commands(cli: Cli, tmp_path: Path) -> None:
    await _push_with_schedules(cli, tmp_path)
    added = await cli(
        "schedules", "add", "nightly", PIPELINE, "--cron", "0 2 * * *",
        "--timezone", "Europe/Berlin", "--param", "region=eu", role="designer",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("nightly: next fire 20")

    listed = await cli("schedules", "ls", role="operator")
    assert listed.exit_code == 0, listed.output
    rows = listed.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["hourly", "nightly"]
    got = json.loads((await cli("schedules", "get", "nightly", "--json")).stdout)
    assert got["params"] == {"region": "eu"} and len(got["nextFires"]) == 5

    denied = await cli("schedules", "pause", "nightly", role="operator")
    assert denied.exit_code == 3 and "operators cannot write schedules" in denied.stderr
    paused = await cli("schedules", "pause", "nightly", "--note", "db upgrade", "--json")
    assert json.loads(paused.stdout)["note"] == "db upgrade"
    shown = await cli("schedules", "get", "nightly")
    assert "paused" in shown.stdout and "note: db upgrade" in shown.stdout
    resumed = await cli("schedules", "resume", "nightly", role="designer")
    assert resumed.exit_code == 0 and "resumed; next fire 20" in resumed.stdout

    fired = await cli("schedules", "trigger", "nightly", "--json", role="operator")
    outcome = json.loads(fired.stdout)
    assert outcome["status"] == "triggered"
    run = json.loads((await cli("runs", "get", outcome["runId"], "--json")).stdout)
    assert run["metadata"]["scheduleId"] == "nightly"

    bad = await cli("schedules", "add", "x", PIPELINE, "--every", "1s", "--cron", "* * * * *")
    assert bad.exit_code == 2 and "exactly one of --cron" in bad.stderr
    bad = await cli(
        "schedules", "add", "x", PIPELINE, "--cron", "* * * * *", "--timezone", "Nowhere"
    )
    assert bad.exit_code == 2 and "unknown time zone 'Nowhere'" in bad.stderr
    gone = await cli("schedules", "rm", "nightly", "--yes")
    assert gone.exit_code == 0
    missing = await cli("schedules", "get", "nightly")
    assert missing.exit_code == 1 and "no schedule 'nightly'" in missing.stderr


async def test_runs_start_idempotency_key(cli: Cli) -> None:
    pushed = await cli("workflows", "push", str(EXAMPLES / "data-pipeline.yaml"))
    assert pushed.exit_code == 0
    args = ("runs", "start", PIPELINE, "--idempotency-key", "k-1")
    one, two = await cli(*args), await cli(*args)
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout
    other = await cli(*args, "--param", "x=1")
    assert other.exit_code == 1 and "CONFLICT" in other.stderr


async def test_backfill_waits_for_its_runs(cli: Cli, worker: None) -> None:
    pushed = await cli("workflows", "push", str(EXAMPLES / "data-pipeline.yaml"))
    assert pushed.exit_code == 0
    added = await cli("schedules", "add", "hourly", PIPELINE, "--every", "1h", role="designer")
    assert added.exit_code == 0, added.output
    args = ("schedules", "backfill", "hourly", "--from", "2026-01-01T00:00:00Z",
            "--to", "2026-01-01T02:00:00Z", "--max-parallel", "2")  # fmt: skip
    first = await cli(*args, "--wait", "--json", role="operator")
    assert first.exit_code == 0, first.output
    view = json.loads(first.stdout)
    assert (view["total"], view["started"], view["created"], view["state"]) == (3, 3, 3, "done")
    again = await cli(*args, "--wait")
    assert again.exit_code == 0, again.output
    assert "3 started (0 new), done" in again.stdout
    runs = json.loads((await cli("runs", "ls", "--json")).stdout)["runs"]
    assert len(runs) == 3 and {r["status"] for r in runs} == {"completed"}
    denied = await cli(*args, role="designer")
    assert denied.exit_code == 3
    future = await cli(
        "schedules", "backfill", "hourly", "--from", "2026-01-01", "--to", "2999-01-01"
    )
    assert future.exit_code == 2 and "past fire times only" in future.stderr


async def test_rm_of_a_scheduled_workflow_names_its_schedules_until_forced(
    cli: Cli, tmp_path: Path
) -> None:
    await _push_with_schedules(cli, tmp_path)
    refused = await cli("workflows", "rm", PIPELINE, "--yes", role="designer")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error [CONFLICT]: ")
    assert "1 schedule (hourly)" in refused.stderr and "--force" in refused.stderr
    assert (await cli("schedules", "get", "hourly")).exit_code == 0

    forced = await cli("workflows", "rm", PIPELINE, "--yes", "--force", role="designer")
    assert (forced.exit_code, forced.stdout.strip()) == (0, f"deleted {PIPELINE}")
    listed = json.loads((await cli("schedules", "ls", "--json")).stdout)
    assert listed == {"schedules": []}
