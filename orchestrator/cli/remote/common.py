"""What every remote command shares: ``--api``/``--key``, the client, and reaching the API.

Errors end a command through :func:`orchestrator.cli.exits.fail` (exit codes there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import click

from orchestrator.cli.exits import Exit, fail
from orchestrator.client import DagqClient, client_for
from orchestrator.errors import DagqError, Unavailable
from orchestrator.settings import load_settings

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def api_options(func: F) -> F:
    """``--api URL`` and ``--key KEY`` (also ``DAGQ_API_URL``/``DAGQ_API_KEY``)."""
    func = click.option(
        "--key",
        "api_key",
        envvar="DAGQ_API_KEY",
        metavar="KEY",
        default=None,
        help="API key [env DAGQ_API_KEY; default: the local stack's].",
    )(func)
    return click.option(
        "--api",
        "api_url",
        envvar="DAGQ_API_URL",
        metavar="URL",
        default=None,
        help="API base URL, e.g. http://127.0.0.1:8080 "
        "[env DAGQ_API_URL; default: the local stack `dagq up` started].",
    )(func)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@dataclass(frozen=True, slots=True)
class Remote:
    """How one command reaches the API: explicit values, else the environment, else local.json."""

    api_url: str | None
    api_key: str | None
    as_json: bool = False

    def client(self) -> DagqClient:
        """A client for the configured API (ConfigError when none is configured)."""
        if self.api_url is not None and not self.api_url.startswith(("http://", "https://")):
            raise click.BadParameter(
                f"{self.api_url!r} is not an http:// or https:// URL", param_hint="--api"
            )
        return client_for(load_settings(), api_url=self.api_url, api_key=self.api_key)

    def run(
        self,
        action: str,
        call: Callable[[DagqClient], Awaitable[T]],
        *,
        refusals: tuple[type[DagqError], ...] = (),
    ) -> T:
        """Run ``call`` with a client; a DagqError ends the command (see :func:`fail`).

        ``action`` completes "operators cannot ..." when the API refuses the permission;
        errors of a ``refusals`` type end it with exit 3, like a refused permission.
        """
        try:
            client = self.client()
            return asyncio.run(_with_client(client, call))
        except DagqError as exc:
            code = Exit.DENIED if isinstance(exc, refusals) else None
            fail(exc, action=action, as_json=self.as_json, code=code)
        except aiohttp.ClientError as exc:
            # Client-side problems the client does not map (a malformed URL, a bad header).
            fail(
                Unavailable(f"cannot talk to the dagq API: {exc}"),
                action=action,
                as_json=self.as_json,
            )


async def _with_client(client: DagqClient, call: Callable[[DagqClient], Awaitable[T]]) -> T:
    async with client:
        return await call(client)
