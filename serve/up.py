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
import logging
import signal
from pathlib import Path

import click

from orchestrator.cli.exits import Exit, fail
from orchestrator.errors import DagqError, Unavailable
from orchestrator.logs import setup_logging
from orchestrator.runtime.stack import LOCAL_ADMIN, LocalStack, StackInfo, default_handlers
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
    info = await stack.start()
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

        await server.run_until_stopped(stop, on_ready=ready)
    finally:
        click.echo("Stopping: finishing in-flight jobs...", err=True)
        await stack.stop()
        click.echo("dagq stopped.", err=True)


@click.command("up")
@click.option("--host", default=None, help="Web interface to listen on (default: web.host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Web port (default: web.port)."
)
@click.option(
    "--api-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="API port on 127.0.0.1 (0: any free port; the CLI finds it in local.json).",
)
@click.option("--workers", type=click.IntRange(0, 64), default=2, show_default=True)
@click.option(
    "--handlers",
    "-H",
    multiple=True,
    help="Handler file or module for the workers (default: examples/handlers.py).",
)
@click.option(
    "--fsync",
    type=click.Choice(["always", "everysec", "no"]),
    default=None,
    help="When the embedded Redis fsyncs its append-only file (default: "
    "redis.embedded_fsync, everysec: a machine crash can lose ~1 s of acknowledged runs; "
    "always: none, at a cost in throughput).",
)
@click.option(
    "--policies",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Policies directory (default: DAGQ_POLICIES_DIR, else <data dir>/policies).",
)
def up(
    host: str | None,
    port: int | None,
    api_port: int,
    workers: int,
    handlers: tuple[str, ...],
    fsync: str | None,
    policies: Path | None,
) -> None:
    """Start Redis, the API, workers and the web designer; print the sign-in link."""
    setup_logging("up", level=logging.WARNING)
    try:
        settings = load_settings()
        if fsync is not None:
            if settings.redis_url:
                raise click.UsageError(
                    "--fsync sets the embedded Redis's appendfsync, but a Redis URL is "
                    "configured (DAGQ_REDIS_URL): set appendfsync in that server's own config"
                )
            settings = load_settings(redis={"embedded_fsync": fsync})
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
