"""``dagq templates``: the gallery, push and versions, use with --set, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.conftest import Cli

GREETER = {
    "id": "greeter",
    "name": "Greeter",
    "parameters": {"greet_handler": {"type": "handler", "default": "sendNotification"}},
    "workflow": {"name": "Greet", "nodes": [
        {"id": "greet", "type": "task", "handler": "{{ greet_handler }}"}]},
}  # fmt: skip


async def test_use_a_gallery_template_and_run_it(cli: Cli, worker: None) -> None:
    listed = await cli("templates", "ls", role="operator")
    assert listed.exit_code == 0, listed.output
    assert "order-saga" in listed.stdout and "data-pipeline" in listed.stdout
    shown = await cli("templates", "show", "order-saga", role="designer")
    assert "payment_handler" in shown.stdout and "chargePayment" in shown.stdout

    made = await cli(
        "templates", "use", "order-saga", "--id", "checkout",
        "--set", "payment_retries=1", "--name", "Checkout", role="designer",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.stdout.strip() == "checkout version 1 (created from template order-saga v1)"
    ran = await cli("runs", "start", "checkout", "--wait", role="operator")
    assert ran.exit_code == 0, ran.output

    dry = await cli(
        "templates", "use", "data-pipeline", "--id", "p2", "--set", "quality_bar=0.5",
        "--dry-run", role="operator",
    )  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert "output.quality > 0.5" in dry.stdout


async def test_bad_values_name_the_parameter(cli: Cli) -> None:
    bad = await cli(
        "templates", "use", "order-saga", "--id", "x", "--set", "payment_handler=charge card",
        role="designer",
    )  # fmt: skip
    assert bad.exit_code != 0
    assert "parameter 'payment_handler'" in bad.stderr and "Traceback" not in bad.output
    denied = await cli("templates", "use", "order-saga", "--id", "x", role="operator")
    assert denied.exit_code == 3 and "operators cannot create workflows" in denied.stderr


async def test_push_versions_diff_and_rm(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "greeter.yaml"
    path.write_text(yaml.safe_dump(GREETER))
    first = await cli("templates", "push", str(path), role="designer")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "greeter version 1 (created)"
    again = await cli("templates", "push", str(path), role="designer")
    assert again.stdout.strip() == "greeter version 1 (unchanged)"
    changed = dict(GREETER, description="louder")
    path.write_text(yaml.safe_dump(changed))
    second = await cli("templates", "push", str(path), "-m", "louder", role="designer")
    assert second.stdout.strip() == "greeter version 2 (updated)"
    versions = await cli("templates", "versions", "greeter", "--json")
    assert [v["version"] for v in json.loads(versions.stdout)["versions"]] == [2, 1]
    diff = await cli("templates", "diff", "greeter", "1", "2")
    assert "~ description" in diff.stdout
    exported = await cli("templates", "show", "greeter", "--version", "1", "--yaml")
    assert yaml.safe_load(exported.stdout)["id"] == "greeter"
    operator = await cli("templates", "push", str(path), role="operator")
    assert operator.exit_code == 3 and "operators cannot write templates" in operator.stderr
    path.write_text("nodes: [")
    broken = await cli("templates", "push", str(path), role="designer")
    assert broken.exit_code != 0 and "Traceback" not in broken.output
    gone = await cli("templates", "rm", "greeter", role="designer")
    assert gone.exit_code == 0 and "deleted" in gone.stdout
    missing = await cli("templates", "show", "greeter")
    assert missing.exit_code == 1 and "not found" in missing.stderr
