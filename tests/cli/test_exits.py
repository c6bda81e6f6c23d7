"""One exit-code table and one error line for every command (``orchestrator/cli/exits.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import build_cli
from serve.cli import SUB_COMMANDS, TOP_COMMANDS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = str(EXAMPLES / "data-pipeline.yaml")

COMMANDS = [
    ["runs", "ls"],
    ["workflows", "ls"],
    ["queues", "ls"],
    ["user", "ls"],
    ["redis", "url"],
    ["validate", EXAMPLE],
    ["run", EXAMPLE],
    ["api"],
    ["worker", "-H", str(EXAMPLES / "handlers.py")],
    ["orchestrator"],
    ["web"],
    ["up"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]).replace(EXAMPLE, "X"))
def test_a_broken_configuration_is_exit_2_with_one_line(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGQ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGQ_QUEUE__SHARDS", "0")  # must be at least 1
    result = CliRunner().invoke(build_cli(TOP_COMMANDS, sub=SUB_COMMANDS), args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error [CONFIG]: configuration error at queue.shards"), lines
    assert "Traceback" not in result.output
