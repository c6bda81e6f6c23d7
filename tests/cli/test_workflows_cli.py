"""``dagq workflows``: push the examples, list, get round trips, versions, validate, rm."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.conftest import EXAMPLES, Cli

PIPELINE = "data-processing-pipeline"
ORDERS = "order-processing"


async def test_push_both_examples_then_list(cli: Cli) -> None:
    for name, wf_id in (("data-pipeline.yaml", PIPELINE), ("order-processing.yaml", ORDERS)):
        pushed = await cli("workflows", "push", str(EXAMPLES / name), role="designer")
        assert pushed.exit_code == 0, pushed.output
        assert pushed.stdout.strip() == f"{wf_id} version 1 (created)"

    listed = await cli("workflows", "ls", role="operator")
    assert listed.exit_code == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "VERSION", "STATUS", "NODES", "TAGS", "UPDATED"]
    assert sorted(r.split()[0] for r in rows) == [PIPELINE, ORDERS]
    # Columns line up: every row's name starts where the header's NAME does.
    name_at = header.index("NAME")
    assert all(r[name_at - 2 : name_at] == "  " and r[name_at] != " " for r in rows)

    as_json = json.loads((await cli("workflows", "ls", "--json", "--name", "order")).stdout)
    assert [w["id"] for w in as_json["workflows"]] == [ORDERS]
    assert (as_json["total"], as_json["hasMore"]) == (1, False)
    paged = await cli("workflows", "ls", "--limit", "1")
    assert "(1-1 of 2; more with --offset)" in paged.stdout


async def test_get_round_trips_and_a_changed_spec_is_a_new_version(
    cli: Cli, tmp_path: Path
) -> None:
    await cli("workflows", "push", str(EXAMPLES / "data-pipeline.yaml"), role="designer")
    got = await cli("workflows", "get", PIPELINE, role="designer")
    assert got.exit_code == 0, got.stderr
    saved = tmp_path / "pipeline.yaml"
    saved.write_text(got.stdout)
    assert yaml.safe_load(got.stdout)["id"] == PIPELINE

    again = await cli("workflows", "push", str(saved), role="designer")
    assert again.stdout.strip() == f"{PIPELINE} version 1 (unchanged)"

    edited = yaml.safe_load(got.stdout)
    edited["description"] = "now with a description"
    saved.write_text(yaml.safe_dump(edited))
    pushed = await cli(
        "workflows", "push", str(saved), "-m", "describe it", "--json", role="designer"
    )
    assert json.loads(pushed.stdout) == {"id": PIPELINE, "version": 2, "outcome": "updated"}

    versions = await cli("workflows", "versions", PIPELINE)
    header, v2, v1 = versions.stdout.splitlines()
    assert header.split()[:2] == ["VERSION", "CREATED"]
    assert v2.split()[0] == "2" and v2.endswith("describe it")
    assert v1.split()[0] == "1"

    first = await cli("workflows", "get", PIPELINE, "--version", "1", "--format", "json")
    assert "description" not in json.loads(first.stdout)
    current = await cli("workflows", "get", PIPELINE, "--format", "json")
    assert json.loads(current.stdout)["description"] == "now with a description"

    valid = await cli("workflows", "validate", PIPELINE, role="designer")
    assert (valid.exit_code, valid.stdout.strip()) == (0, f"✓ {PIPELINE}: valid")


async def test_invalid_spec_lists_the_validators_errors(cli: Cli, tmp_path: Path) -> None:
    looped = tmp_path / "loop.yaml"
    looped.write_text(
        "name: Loop\nnodes:\n  - {id: a, type: task, handler: fetchData}\n"
        "  - {id: b, type: task, handler: fetchData}\n"
        "edges:\n  - {source: a, target: b}\n  - {source: b, target: a}\n"
    )
    result = await cli("workflows", "push", str(looped), role="designer")
    assert result.exit_code == 1
    first, *issues = result.stderr.splitlines()
    assert first.startswith("error [SPEC_INVALID]:")
    assert any(line.strip().startswith("✗ CYCLE [a]") for line in issues)
    assert "Traceback" not in result.output

    # Schema problems are found before anything is sent.
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: Broken\nnodes:\n  - {id: a, type: task}\n")
    result = await cli("workflows", "push", str(broken), "--json", role="designer")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "SPEC_INVALID"
    assert "✗" in result.stderr

    missing = await cli("workflows", "push", str(tmp_path / "nope.yaml"), role="designer")
    assert missing.exit_code == 2


async def test_roles_not_found_and_rm(cli: Cli) -> None:
    await cli("workflows", "push", str(EXAMPLES / "order-processing.yaml"), role="designer")
    denied = await cli("workflows", "rm", ORDERS, "--yes", role="operator")
    assert denied.exit_code == 3
    assert denied.stderr.strip() == (
        "error [FORBIDDEN]: permission denied: operators cannot delete workflows (workflow:delete)"
    )
    wrong_key = await cli("workflows", "ls", "--key", "dagq_not_a_key", role=None,
                          env={"DAGQ_API_URL": cli.api.base_url})  # fmt: skip
    assert wrong_key.exit_code == 3
    assert wrong_key.stderr.startswith("error [UNAUTHORIZED]: authentication failed:")

    no_prompt = await cli("workflows", "rm", ORDERS, role="designer")
    assert no_prompt.exit_code == 2
    assert "--yes" in no_prompt.stderr

    gone = await cli("workflows", "rm", ORDERS, "--yes", role="designer")
    assert (gone.exit_code, gone.stdout.strip()) == (0, f"deleted {ORDERS}")
    missing = await cli("workflows", "get", ORDERS)
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error [NOT_FOUND]:")
    assert ORDERS in missing.stderr
