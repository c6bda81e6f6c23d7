"""The full ``dagq`` command: the orchestrator's commands plus the app and the web front end."""

from __future__ import annotations

from orchestrator.cli import build_cli

TOP_COMMANDS: dict[str, str] = {
    "tui": "app.cli:tui",
    "web": "serve.web_cmd:web",
    "up": "serve.up:up",
    "login-link": "serve.login_link:login_link",
}


# Subcommands of the orchestrator's groups that live in upper layers.
SUB_COMMANDS: dict[str, dict[str, str]] = {
    "bench": {"canvas": "app.bench.cli:canvas"},
}


def main() -> None:
    """Entry point of the ``dagq`` console script."""
    build_cli(TOP_COMMANDS, sub=SUB_COMMANDS)()
