"""What every remote command shares: ``--api``/``--key``, the client, errors and exit codes.

Exit codes: 0 ok, 1 a failed or invalid outcome (an invalid spec, a run that did not
complete, a conflict, something not found), 2 a usage error or an API that cannot be
reached or configured, 3 authentication or permission refused.  Every
:class:`DagqError` becomes one line on stderr (its code and message), followed by the
validator's errors when the API sent them; never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import aiohttp
import click

from orchestrator.cli.remote.render import echo_json, issue_lines
from orchestrator.client import DagqClient, client_for
from orchestrator.errors import (
    BadRequest,
    ConfigError,
    DagqError,
    Forbidden,
    ParameterError,
    Unauthorized,
    Unavailable,
)
from orchestrator.settings import load_settings

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3
EXIT_INTERRUPTED = 130

_ROLE_WORDS = {
    "workflow_designer": "designers",
    "workflow_operator": "operators",
    "workflow_admin": "admins",
}


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


def denial(exc: Forbidden, action: str) -> str:
    """``permission denied: operators cannot purge dead letters (system:configure)``."""
    role = exc.details.get("role")
    permission = exc.details.get("permission")
    if not permission:
        return f"permission denied: {exc.message}"
    who = _ROLE_WORDS.get(role, f"{role} users") if isinstance(role, str) and role else None
    return f"permission denied: {who or 'users without a role'} cannot {action} ({permission})"


def exit_code_of(exc: DagqError) -> int:
    """The exit code a :class:`DagqError` ends a command with (see the module docstring)."""
    if isinstance(exc, Unauthorized | Forbidden):
        return EXIT_DENIED
    if isinstance(exc, Unavailable | ConfigError | BadRequest | ParameterError):
        return EXIT_USAGE
    return EXIT_FAILED


def fail(exc: DagqError, *, action: str, as_json: bool = False) -> NoReturn:
    """Report ``exc`` (stderr; also its JSON on stdout with ``--json``) and exit."""
    message = denial(exc, action) if isinstance(exc, Forbidden) else exc.message
    if isinstance(exc, Unauthorized):
        message = f"authentication failed: {exc.message}"
    click.echo(f"error [{exc.code}]: {message}", err=True)
    for line in issue_lines(exc.details.get("errors"), exc.details.get("warnings")):
        click.echo(line, err=True)
    if as_json:
        echo_json(exc.to_dict())
    raise SystemExit(exit_code_of(exc))


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

    def run(self, action: str, call: Callable[[DagqClient], Awaitable[T]]) -> T:
        """Run ``call`` with a client; a DagqError ends the command (see :func:`fail`).

        ``action`` completes "operators cannot ..." when the API refuses the permission.
        """
        try:
            client = self.client()
            return asyncio.run(_with_client(client, call))
        except DagqError as exc:
            fail(exc, action=action, as_json=self.as_json)
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
