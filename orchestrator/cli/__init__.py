"""The ``dagq`` command line.

Subcommands live one module each and load lazily, so ``dagq validate`` does not
import aiohttp or Textual.  The orchestrator's own commands are listed here;
the top layer (``serve.cli``) adds ``tui``, ``web`` and ``up`` to the same group,
which keeps imports flowing ``serve -> app -> orchestrator`` only.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

ORCHESTRATOR_COMMANDS: dict[str, str] = {
    "validate": "orchestrator.cli.spec_cmds:validate",
    "export": "orchestrator.cli.spec_cmds:export",
    "schema": "orchestrator.cli.spec_cmds:schema",
    "run": "orchestrator.cli.run_cmd:run",
    "worker": "orchestrator.cli.worker_cmd:worker",
    "orchestrator": "orchestrator.cli.worker_cmd:orchestrate",
    "redis": "orchestrator.cli.redis_cmd:redis_group",
    "api": "orchestrator.cli.api_cmd:api",
    "user": "orchestrator.cli.user_cmd:user",
    "workflows": "orchestrator.cli.remote_cmds:workflows",
    "runs": "orchestrator.cli.remote_cmds:runs",
    "approvals": "orchestrator.cli.remote_cmds:approvals",
    "queues": "orchestrator.cli.remote_cmds:queues",
    "schedules": "orchestrator.cli.schedule_cmds:schedules",
    "hooks": "orchestrator.cli.hook_cmds:hooks",
    "jobs": "orchestrator.cli.job_cmds:jobs",
    "templates": "orchestrator.cli.template_cmds:templates",
    "bench": "orchestrator.cli.bench_cmd:bench",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are ``"module:attribute"`` strings imported on use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help lists each command's first line without importing its module.
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            target = self.lazy.get(name)
            if target is not None and importlib.util.find_spec(target.split(":")[0]) is None:
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl(
                    [(name, cmd.get_short_help_str(limit=limit)) for name, cmd in commands]
                )

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


class LazySubgroup(LazyGroup):
    """A lazily loaded group (``"module:attribute"``) with extra lazy subcommands.

    Lets an upper layer add a subcommand to a group of a lower one (``dagq bench
    canvas`` from the app into the orchestrator's ``bench``) without either layer
    importing the other's modules before the command runs.
    """

    def __init__(self, name: str, target: str, extra: dict[str, str]) -> None:
        super().__init__(name=name, lazy=extra)
        self.target = target
        self._loaded: click.Group | None = None

    def _base(self) -> click.Group:
        if self._loaded is None:
            module_name, attr = self.target.split(":")
            group = getattr(importlib.import_module(module_name), attr)
            if not isinstance(group, click.Group):
                raise TypeError(f"{self.target} is not a click group")
            self._loaded = group
            self.help = group.help
            self.params = group.params
            self.callback = group.callback
            self.short_help = group.short_help
        return self._loaded

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._base().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            return super().get_command(ctx, cmd_name)
        return self._base().get_command(ctx, cmd_name)

    def get_short_help_str(self, limit: int = 45) -> str:
        self._base()
        return super().get_short_help_str(limit)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        self._base()
        return super().make_context(*args, **kwargs)


def build_cli(
    extra: dict[str, str] | None = None, sub: dict[str, dict[str, str]] | None = None
) -> LazyGroup:
    """The ``dagq`` group with the orchestrator's commands plus ``extra`` ones.

    ``sub`` adds lazy subcommands to lazy groups: ``{"bench": {"canvas": "app.x:canvas"}}``.
    """

    @click.group(
        cls=LazyGroup,
        lazy={**ORCHESTRATOR_COMMANDS, **(extra or {})},
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.version_option(package_name="dagq", prog_name="dagq")
    def dagq() -> None:
        """dagq: workflows over Redis, designed and watched in a terminal or a browser."""

    assert isinstance(dagq, LazyGroup)
    for group_name, commands in (sub or {}).items():
        target = dagq.lazy.pop(group_name)
        dagq.add_command(LazySubgroup(group_name, target, commands))
    return dagq


def main() -> None:
    """Entry point of the orchestrator-only command line."""
    build_cli()()
