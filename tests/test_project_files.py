"""The files a newcomer or an operator relies on say true things about the code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli import ORCHESTRATOR_COMMANDS, build_cli
from serve.cli import TOP_COMMANDS

ROOT = Path(__file__).resolve().parents[1]


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(build_cli(TOP_COMMANDS), [*args, "--help"])
    assert result.exit_code == 0, f"dagq {' '.join(args)} --help failed:\n{result.output}"
    return result.output


def _check_command(argv: list[str]) -> None:
    """``argv`` (after ``dagq``) names a real command and only options it has."""
    path: list[str] = []
    for word in argv:
        if word.startswith("-") or "Commands:" not in _help(path):
            break
        path.append(word)
    text = _help(path)
    for option in (a.split("=")[0] for a in argv if a.startswith("--")):
        assert option in text, f"dagq {' '.join(path)} has no option {option}"


def test_every_lazy_command_imports() -> None:
    for name in {**ORCHESTRATOR_COMMANDS, **TOP_COMMANDS}:
        _help([name])


def test_compose_services_run_real_commands() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        if name == "redis":
            continue
        _check_command(service["command"])
        health = service.get("healthcheck", {}).get("test", [])
        if health[:2] == ["CMD", "dagq"]:
            _check_command(health[2:])


def test_dockerfile_default_command_and_user() -> None:
    text = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd is not None
    _check_command(yaml.safe_load(cmd.group(1)))
    assert re.search(r"^USER dagq$", text, re.M), "the image must not run as root"
    assert "HEALTHCHECK" in text


@pytest.mark.parametrize("needle", ["dagq up", "bash .ci/run"])
def test_readme_opens_with_the_two_commands(needle: str) -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## A short tour")]
    commands = [line.strip() for line in head.splitlines() if line.startswith("    ")]
    assert any(needle in c for c in commands), commands
    for command in commands:
        shlex.split(command)  # each is a well-formed shell line


def test_ci_runs_every_test_directory() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "pytest" in script and " tests e2e" in script
    assert "pip install" in script and "chromium" in script
