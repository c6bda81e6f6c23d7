"""``dagq validate``, ``export``, ``schema`` and ``bench validate`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import build_cli
from orchestrator.spec.loader import load_file, load_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
BROKEN = """\
name: broken
nodes:
  - {id: a, type: task, handler: h, timeout: soon}
  - {id: d, type: decision, condition: "output.x > 1"}
  - {id: b, type: task, handler: h}
edges:
  - {source: a, target: d}
  - {source: d, target: b, condition: true}
  - {source: b, target: a}
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_cli(), list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    return path


def test_validate_examples(runner: CliRunner) -> None:
    code, out, _ = run(runner, "validate", *map(str, EXAMPLES))
    assert code == 0
    assert "✓" in out and "data-pipeline.yaml: valid (7 nodes, 7 edges)" in out
    assert "order-processing.yaml: valid (6 nodes" in out


def test_validate_json_one_file_is_one_result_object(runner: CliRunner) -> None:
    code, out, _ = run(runner, "validate", "--json", str(EXAMPLES[0]))
    assert code == 0
    assert json.loads(out) == {"valid": True, "errors": [], "warnings": []}


def test_validate_broken_file_lists_codes_and_node_ids(runner: CliRunner, broken: Path) -> None:
    code, out, _ = run(runner, "validate", str(broken))
    assert code == 1
    assert f"✗ {broken}: invalid" in out
    assert "  ✗ BAD_DURATION [a] " in out


def test_validate_json_several_files_keyed_by_name(runner: CliRunner, broken: Path) -> None:
    code, out, _ = run(runner, "validate", "--json", str(broken), str(EXAMPLES[0]))
    assert code == 1
    data = json.loads(out)
    assert set(data) == {str(broken), str(EXAMPLES[0])}
    assert data[str(EXAMPLES[0])]["valid"] is True
    assert data[str(broken)]["valid"] is False
    assert {"code", "message"} <= set(data[str(broken)]["errors"][0])


def test_graph_errors_when_the_schema_is_fine(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "cycle.yaml"
    path.write_text(BROKEN.replace("timeout: soon", "timeout: 5s"))
    code, out, _ = run(runner, "validate", "--json", str(path))
    assert code == 1
    found = {(e["code"], e.get("nodeId")) for e in json.loads(out)["errors"]}
    assert ("CYCLE", "a") in found and ("DECISION_BRANCHES", "d") in found


def test_unparseable_file_is_invalid_not_a_crash(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_text('{"name": ')
    code, out, _ = run(runner, "validate", "--json", str(path))
    assert code == 1
    (error,) = json.loads(out)["errors"]
    assert error["code"] == "PARSE" and "line 1" in error["message"]


def test_missing_file_and_usage_errors_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    code, out, err = run(runner, "validate", str(tmp_path / "nope.yaml"))
    assert code == 2 and "does not exist" in err and out == ""
    assert run(runner, "validate")[0] == 2
    assert run(runner, "validate", "--max-nodes", "0", str(EXAMPLES[0]))[0] == 2
    assert run(runner, "validate", str(tmp_path))[0] == 2


def test_max_nodes_option(runner: CliRunner) -> None:
    code, out, _ = run(runner, "validate", "--max-nodes", "3", str(EXAMPLES[0]))
    assert code == 1 and "TOO_MANY_NODES" in out


def test_export_yaml_and_json_load_back(runner: CliRunner, tmp_path: Path) -> None:
    for example in EXAMPLES:
        code, out, _ = run(runner, "export", str(example), "--format", "yaml")
        assert code == 0 and load_text(out) == load_file(example)
        code, out, _ = run(runner, "export", str(example), "--format", "json")
        assert code == 0 and load_text(out, fmt="json") == load_file(example)
    target = tmp_path / "out.json"
    code, _, err = run(runner, "export", str(EXAMPLES[0]), "-o", str(target))
    assert code == 0 and "wrote" in err
    assert json.loads(target.read_text())["id"] == "data-processing-pipeline"


def test_export_of_invalid_input_exits_1_with_errors(runner: CliRunner, broken: Path) -> None:
    code, out, err = run(runner, "export", str(broken), "--format", "json")
    assert code == 1 and out == ""
    assert "BAD_DURATION" in err


def test_schema_is_the_models_json_schema(runner: CliRunner) -> None:
    code, out, _ = run(runner, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "WorkflowSpec"
    assert {"nodes", "edges", "compensation_strategy"} <= set(schema["properties"])


def test_bench_validate_json(runner: CliRunner) -> None:
    code, out, _ = run(runner, "bench", "validate", "--nodes", "40", "--repeat", "2", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["nodes"] == 40
    assert set(report["timings"]) == {"yaml_text", "json_text", "graph_checks", "edge_copies"}


def test_real_subprocess_validates_the_examples() -> None:
    dagq = Path(sys.executable).with_name("dagq")
    command = [str(dagq)] if dagq.exists() else [sys.executable, "-m", "serve.cli"]
    done = subprocess.run(
        [*command, "validate", *(str(p.relative_to(ROOT)) for p in EXAMPLES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DAGQ_CONFIG": os.devnull},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("✓") == len(EXAMPLES)
    assert "examples/data-pipeline.yaml: valid (7 nodes, 7 edges)" in done.stdout
