"""``dagq api``: serve the HTTP API (with the orchestrator loop inside) until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from aiohttp import web

from orchestrator.cli.exits import Exit, fail
from orchestrator.cli.worker_cmd import install_stop_signals
from orchestrator.errors import DagqError
from orchestrator.logs import setup_logging
from orchestrator.settings import Settings, load_settings

_SHUTDOWN_S = 10.0


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


async def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    policies: Path | None,
    orchestrator: bool,
    stop: asyncio.Event | None = None,
) -> None:
    """Connect, serve until ``stop`` (or a signal), then shut down gracefully."""
    from orchestrator.api.app import create_app, runner
    from orchestrator.store.connection import connect

    stop = stop if stop is not None else asyncio.Event()
    install_stop_signals(stop)
    conn = await connect(settings)
    try:
        app = create_app(settings, conn, policies_dir=policies, run_orchestrator=orchestrator)
        api_runner = runner(app, access_log=None, shutdown_timeout=_SHUTDOWN_S)
        await api_runner.setup()
        try:
            site = web.TCPSite(api_runner, host, port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                raise DagqError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
            # stdout carries only the URL line, so wrappers (dagq up, tests) can read it.
            click.echo(f"dagq api listening on {bound_url(api_runner, host)}")
            await stop.wait()
        finally:
            await api_runner.cleanup()
    finally:
        await conn.aclose()


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
def api(host: str | None, port: int | None, policies: Path | None, orchestrator: bool) -> None:
    """Serve the dagq HTTP API under /api/v1 and print its URL."""
    setup_logging("api")
    try:
        settings = load_settings()
        asyncio.run(
            serve(
                settings,
                host=host or settings.api.host,
                port=settings.api.port if port is None else port,
                policies=policies,
                orchestrator=orchestrator,
            )
        )
    except DagqError as exc:
        fail(exc, code=Exit.USAGE)  # it cannot start
    except KeyboardInterrupt:
        pass
    sys.exit(Exit.OK)
