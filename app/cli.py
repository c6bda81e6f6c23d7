"""``dagq tui [--api URL] [--key KEY]``: the designer in this terminal.

With no API given it uses the local stack of the data dir (``dagq up`` writes
``local.json``) when that API answers ``/healthz``; else it starts one in this
process (embedded Redis, API, orchestrator, workers with ``examples/handlers.py``
when run from a checkout) for as long as the app runs — a local user types one
command.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import click

from orchestrator.cli.exits import Exit, fail
from orchestrator.client import local_config
from orchestrator.errors import DagqError
from orchestrator.logs import configure_structlog, redacting
from orchestrator.settings import Settings, load_settings


async def answers(api_url: str, *, timeout_s: float = 2.0) -> bool:
    """True when ``<api_url>/healthz`` answers 200."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
            http.get(api_url.rstrip("/") + "/healthz") as resp,
        ):
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


def _log_to_file(settings: Settings) -> Path:
    """Send the in-process stack's logs to a file: the terminal belongs to the app."""
    path = Path(settings.data_dir) / "tui.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = redacting(logging.FileHandler(path))
    configure_structlog()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


async def run_tui(
    settings: Settings,
    api_url: str | None,
    api_key: str | None,
    *,
    examples: Path | None = None,
) -> int:
    """Run the app against the given API, the local stack, or one started here
    (seeded with the workflow files of ``examples``)."""
    from app.factory import create_app

    if api_url or api_key:
        await create_app(settings=settings, api_url=api_url, api_key=api_key).run_async()
        return 0
    local = local_config(settings)
    if local is not None and await answers(local[0]):
        await create_app(settings=settings, api_url=local[0], api_key=local[1]).run_async()
        return 0
    from orchestrator.runtime.stack import LocalStack

    await asyncio.to_thread(_log_to_file, settings)
    stack = LocalStack(settings, examples=examples, command="dagq tui")
    async with stack:
        assert stack.info is not None
        app = create_app(settings=settings, api_url=stack.info.api_url, api_key=stack.info.api_key)
        await app.run_async()
    return 0


@click.command()
@click.option("--api", "api_url", metavar="URL", help="Base URL of the dagq API.")
@click.option("--key", "api_key", metavar="KEY", help="API key (default: the local stack's).")
def tui(api_url: str | None, api_key: str | None) -> None:
    """Design, run and watch workflows in this terminal."""
    try:
        settings = load_settings()
        examples = Path("examples")
        found = examples if examples.is_dir() else None
        code = asyncio.run(run_tui(settings, api_url, api_key, examples=found))
    except DagqError as exc:
        fail(exc, code=Exit.USAGE)  # it cannot start
    except KeyboardInterrupt:
        code = Exit.INTERRUPTED
    raise SystemExit(code)
