"""``dagq api``: serve the HTTP API (with the orchestrator loop inside) until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from aiohttp import web

from orchestrator.cli import api_procs
from orchestrator.cli.exits import Exit, fail
from orchestrator.cli.worker_cmd import install_stop_signals
from orchestrator.errors import DagqError
from orchestrator.logs import setup_logging
from orchestrator.settings import Settings, load_settings

_SHUTDOWN_S = 10.0
log = logging.getLogger("dagq.api")


def bound_url(runner: web.AppRunner, host: str) -> str:
    """``http://host:port`` of the first listening socket (the real port when 0 was asked)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
            shown = "[::1]" if host == "::" else shown
            if ":" in shown and not shown.startswith("["):
                shown = f"[{shown}]"
            return f"http://{shown}:{address[1]}"
    raise DagqError("the API is not listening on any address")


def bound_port(runner: web.AppRunner) -> int:
    """The port the API listens on."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise DagqError("the API is not listening on any address")


async def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    policies: Path | None,
    orchestrator: bool,
    stop: asyncio.Event | None = None,
    processes: int = 1,
    copy_argv: Sequence[str] = (),
    copy_of: int | None = None,
) -> int:
    """Connect, serve until ``stop`` (or a signal), then shut down gracefully; the exit
    status.  With ``processes`` > 1 this process starts ``processes - 1`` copies of
    itself (``copy_argv``) on the same port (see :mod:`orchestrator.cli.api_procs`)."""
    from orchestrator.api.app import create_app, runner
    from orchestrator.store.connection import connect

    stop = stop if stop is not None else asyncio.Event()
    install_stop_signals(stop)
    shared = processes > 1 or copy_of is not None
    copies = api_procs.Copies(copy_argv)
    status: int = Exit.OK
    conn = await connect(settings)
    try:
        app = create_app(settings, conn, policies_dir=policies, run_orchestrator=orchestrator)
        api_runner = runner(app, access_log=None, shutdown_timeout=_SHUTDOWN_S)
        await api_runner.setup()
        try:
            site = web.TCPSite(
                api_runner, host, port, reuse_address=True, reuse_port=shared or None
            )
            try:
                await site.start()
            except OSError as exc:
                raise DagqError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
            watchers = []
            if processes > 1:
                await copies.start(processes - 1, bound_port(api_runner))
                watchers.append(asyncio.ensure_future(_set_when(copies.died, stop)))
                log.info("%d API processes share port %d", processes, bound_port(api_runner))
            if copy_of is not None:
                watchers.append(asyncio.ensure_future(api_procs.stop_when_orphaned(copy_of, stop)))
            # stdout carries only the URL line, so wrappers (dagq up, tests) can read it.
            click.echo(f"{api_procs.LISTENING}{bound_url(api_runner, host)}")
            await stop.wait()
            if copies.died.is_set():
                status = Exit.FAILED
            for task in watchers:
                task.cancel()
        finally:
            await copies.stop(_SHUTDOWN_S)
            await api_runner.cleanup()
    finally:
        await conn.aclose()
    return status


async def _set_when(event: asyncio.Event, target: asyncio.Event) -> None:
    await event.wait()
    target.set()


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default: api.host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port (default: api.port)."
)
@click.option(
    "--policies",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="DAGQ_POLICIES_DIR",
    help="Casbin model, policy and users file (default: ./policies or the data dir's).",
)
@click.option(
    "--orchestrator/--no-orchestrator",
    default=True,
    show_default=True,
    help="Run the orchestrator loop in this process.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 256),
    default=None,
    help="API processes sharing the port (SO_REUSEPORT; default: one per core).",
)
@click.option("--copy-of", type=int, default=None, hidden=True)
def api(
    host: str | None,
    port: int | None,
    policies: Path | None,
    orchestrator: bool,
    processes: int | None,
    copy_of: int | None,
) -> None:
    """Serve the dagq HTTP API under /api/v1 and print its URL."""
    setup_logging("api")
    if processes is None:
        processes = api_procs.default_processes()
    elif processes > 1 and not api_procs.can_share_port():
        fail(
            DagqError("--processes above 1 needs SO_REUSEPORT load balancing (Linux)"),
            code=Exit.USAGE,
        )
    # The copies run this very command on the port the first one bound.
    copy_argv = [sys.executable, "-c", "from serve.cli import main; main()", "api"]
    if host is not None:
        copy_argv += ["--host", host]
    if policies is not None:
        copy_argv += ["--policies", str(policies)]
    copy_argv.append("--orchestrator" if orchestrator else "--no-orchestrator")
    status: int = Exit.OK
    try:
        settings = load_settings()
        status = asyncio.run(
            serve(
                settings,
                host=host or settings.api.host,
                port=settings.api.port if port is None else port,
                policies=policies,
                orchestrator=orchestrator,
                processes=processes,
                copy_argv=copy_argv,
                copy_of=copy_of,
            )
        )
    except DagqError as exc:
        fail(exc, code=Exit.USAGE)  # it cannot start
    except KeyboardInterrupt:
        pass
    sys.exit(status)
