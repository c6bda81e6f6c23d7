"""The deployment's limits are judged the same way by the API, ``dagq validate`` and the
designer: one spec, one configuration, the same problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from app.editor import Editor
from orchestrator.cli import build_cli
from orchestrator.settings import load_settings
from orchestrator.spec.limits import judge

ENV = {
    "DAGQ_WORKFLOW__RESOURCE_LIMITS__MAX_RETRY_ATTEMPTS": "2",
    "DAGQ_WORKFLOW__RESOURCE_LIMITS__MAX_PARALLEL_EXECUTIONS": "4",
}
SPEC: dict[str, Any] = {
    "id": "greedy",
    "name": "Greedy",
    "config": {"concurrency_limit": 8},
    "nodes": [
        {"id": "a", "type": "task", "handler": "fetchData", "retries": 3},
        {"id": "b", "type": "task", "handler": "fetchData", "retries": 2},
    ],
    "edges": [{"source": "a", "target": "b"}],
}


def _codes(issues: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return sorted((i["code"], i.get("nodeId"), i["message"]) for i in issues)


def test_api_cli_and_designer_report_the_same_limits(tmp_path: Path, monkeypatch: Any) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGQ_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()

    api, spec = judge(SPEC, settings)
    assert spec is None  # the API refuses it (422)
    expected = _codes(api.to_dict()["errors"])
    assert [c[:2] for c in expected] == [("TOO_MANY_RETRIES", "a"), ("TOO_PARALLEL", None)]
    assert "at most 2 (resource_limits.max_retry_attempts)" in expected[0][2]

    path = tmp_path / "greedy.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    cli = CliRunner().invoke(build_cli(), ["validate", "--json", str(path)])
    assert cli.exit_code == 1, cli.output
    assert _codes(json.loads(cli.stdout)["errors"]) == expected

    designer = Editor(SPEC).validate(settings)
    assert _codes(designer.to_dict()["errors"]) == expected

    relaxed = load_settings(workflow={"resource_limits": {"max_retry_attempts": 5}})
    assert [i.code for i in Editor(SPEC).validate(relaxed).errors] == ["TOO_PARALLEL"]
