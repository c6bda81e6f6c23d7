"""``dagq up``: everything on one machine with one command.

Starts the embedded Redis (unless a Redis URL is configured), the API with its
orchestrator loop, N workers, and the web front end; creates the local admin on
first start; seeds the examples; prints the one-time sign-in URL on stdout and
writes the API URL and the admin's key to ``<data dir>/local.json`` for the
command line and ``dagq tui``.  Ctrl+C stops everything cleanly; data persists
(the embedded Redis keeps an append-only file in the data dir).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.exits import Exit, fail
from orchestrator.errors import DagqError, Unavailable
from orchestrator.logs import setup_logging
from orchestrator.runtime.stack import (
    LOCAL_ADMIN,
    LocalStack,
    StackInfo,
    default_handlers,
    local_policies_dir,
)
from orchestrator.settings import Settings, load_settings
from serve.server import DagqServer
from serve.web_cmd import build_server

log = logging.getLogger("dagq.up")


_FSYNC_PROMISE = {
    "always": "every acknowledged run is on disk",
    "everysec": "a machine crash can lose the last ~1 s of acknowledged runs",
    "no": "a machine crash can lose the last ~30 s of acknowledged runs",
}


def _print_ready(settings: Settings, info: StackInfo, server: DagqServer, workers: int) -> None:
    click.echo(f"dagq is up (data in {settings.data_dir})")
    click.echo(f"  Redis      {info.redis_url}")
    if info.redis_fsync is not None:
        promise = _FSYNC_PROMISE.get(info.redis_fsync, "")
        click.echo(f"  Durability AOF fsync {info.redis_fsync}: {promise}")
        wanted = settings.redis.embedded_fsync
        if info.redis_fsync != wanted:
            click.echo(
                f"  (fsync {wanted} was asked for, but the embedded Redis was already running, "
                "started by another dagq process; `dagq redis stop` first to change it)",
                err=True,
            )
    click.echo(
        f"  API        {info.api_url}  (key of {info.admin} in {settings.data_dir}/local.json)"
    )
    click.echo(f"  Workers    {workers}")
    click.echo(f"  Policies   {info.policies_dir}")
    click.echo(f"  Web        {server.listen_url}")
    click.echo(f"Open the designer, signed in as {LOCAL_ADMIN}, with this one-time link:")
    click.echo(f"    {server.login_url}")
    click.echo(f"  (it works once: {NEW_LINK_HINT})")
    click.echo("Press Ctrl+C to stop.")


NEW_LINK_HINT = "`dagq login-link` prints a new one while this runs"


def _link_used() -> None:
    click.echo(f"The one-time sign-in link was used; {NEW_LINK_HINT}.")


async def _up(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    api_port: int,
    workers: int,
    handlers: list[str],
    policies: Path | None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    examples = Path.cwd() / "examples"
    stack = LocalStack(
        settings,
        handlers=handlers,
        workers=workers,
        port=api_port,
        policies_dir=policies,
        examples=examples if examples.is_dir() else None,
        command="dagq up",
    )
    try:
        info = await stack.start()
    except OSError as exc:
        raise _port_in_use(exc, "API", f"127.0.0.1:{api_port}", "--api-port") from None
    try:
        server = build_server(
            settings,
            redis=stack.connection.redis,
            keys=stack.connection.keys,
            host=host,
            port=port,
            api_url=info.api_url,
            policies=info.policies_dir,
            admin=LOCAL_ADMIN,
        )

        server.on_link_used = _link_used

        def ready(s: DagqServer) -> None:
            stack.publish(web_url=s.listen_url)
            _print_ready(settings, info, s, workers)

        try:
            await server.run_until_stopped(stop, on_ready=ready)
        except OSError as exc:
            raise _port_in_use(exc, "web", f"{server.host}:{server.port}", "--port") from None
    finally:
        click.echo("Stopping: finishing in-flight jobs...", err=True)
        await stack.stop()
        click.echo("dagq stopped.", err=True)


def _port_in_use(exc: OSError, what: str, address: str, option: str) -> OSError | DagqError:
    """A busy port as a sentence that names the option to choose another."""
    if exc.errno != errno.EADDRINUSE:
        return exc
    return Unavailable(
        f"the {what} port is in use ({address}): another program listens there; "
        f"use {option} PORT (0: any free port)"
    )


class _SettingOption(click.Option):
    """An option whose help ends with the value it defaults to here, read from the
    settings (config file, environment) when the help is shown."""

    def __init__(self, *args: Any, setting: Callable[[Settings], object], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting
        self.base_help = self.help or ""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        try:
            value = self.setting(load_settings())
        except DagqError as exc:
            value = f"? ({exc.message})"
        self.help = f"{self.base_help}  [default: {value}]"
        return super().get_help_record(ctx)


def _handlers_default(_: Settings) -> str:
    return ", ".join(default_handlers()) or "none (no examples/handlers.py here)"


@click.command("up")
@click.option(
    "--host",
    default=None,
    cls=_SettingOption,
    setting=lambda s: s.web.host,
    help="Web interface to listen on (web.host).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    cls=_SettingOption,
    setting=lambda s: s.web.port,
    help="Web port (web.port; 0: any free port).",
)
@click.option(
    "--api-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="API port on 127.0.0.1 (0: any free port; the CLI finds it in local.json).",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=2,
    show_default=True,
    help="Workers in this process.",
)
@click.option(
    "--handlers",
    "-H",
    multiple=True,
    cls=_SettingOption,
    setting=_handlers_default,
    help="Handler file or module for the workers (repeatable).",
)
@click.option(
    "--fsync",
    type=click.Choice(["always", "everysec", "no"]),
    default=None,
    cls=_SettingOption,
    setting=lambda s: s.redis.embedded_fsync,
    help="When the embedded Redis fsyncs its append-only file (redis.embedded_fsync; "
    "everysec: a machine crash can lose ~1 s of acknowledged runs; always: none, at a cost "
    "in throughput).",
)
@click.option(
    "--policies",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    cls=_SettingOption,
    setting=local_policies_dir,
    help="Policies directory (DAGQ_POLICIES_DIR, else <data dir>/policies).",
)
@click.option(
    "--redis-url",
    default=None,
    help="Redis to use instead of the embedded one (default: DAGQ_REDIS_URL): "
    "redis://, rediss://, unix://, or redis+cluster://HOST:PORT[,HOST:PORT...] for a cluster.",
)
def up(
    host: str | None,
    port: int | None,
    api_port: int,
    workers: int,
    handlers: tuple[str, ...],
    fsync: str | None,
    policies: Path | None,
    redis_url: str | None,
) -> None:
    """Start Redis, the API, workers and the web designer; print the sign-in link."""
    setup_logging("up", level=logging.WARNING)
    try:
        settings = load_settings() if redis_url is None else load_settings(redis_url=redis_url)
        if fsync is not None:
            if settings.redis_url:
                raise click.UsageError(
                    "--fsync sets the embedded Redis's appendfsync, but a Redis URL is "
                    "configured (DAGQ_REDIS_URL): set appendfsync in that server's own config"
                )
            settings = settings.model_copy(
                update={"redis": settings.redis.model_copy(update={"embedded_fsync": fsync})}
            )
        asyncio.run(
            _up(
                settings,
                host=host,
                port=port,
                api_port=api_port,
                workers=workers,
                handlers=list(handlers) or default_handlers(),
                policies=policies,
            )
        )
    except DagqError as exc:
        fail(exc, code=Exit.USAGE)  # it cannot start
    except OSError as exc:
        fail(Unavailable(f"cannot start: {exc}"))
