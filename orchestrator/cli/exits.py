"""Every dagq command's exit codes, and the one way an error ends a command.

Exit codes, the same for every command:

- 0 ok;
- 1 a failed or invalid outcome: a run that did not complete, an invalid spec, a
  conflict, something not found, a change refused by the policy's rules;
- 2 it could not be done as asked: a usage or configuration error, bad parameters,
  Redis or the API unreachable, a process that cannot start;
- 3 authentication or permission refused;
- 130 interrupted (Ctrl+C).

Every :class:`DagqError` becomes one line on stderr, ``error [CODE]: message``, then the
validator's errors and warnings when there are any (and the error's JSON on stdout
with ``--json``); never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import IntEnum
from typing import NoReturn, ParamSpec, TypeVar

import click
from redis.exceptions import RedisError

from orchestrator.cli.remote.render import echo_json, issue_lines
from orchestrator.errors import (
    BadRequest,
    ConfigError,
    DagqError,
    Forbidden,
    ParameterError,
    Unauthorized,
    Unavailable,
)

P = ParamSpec("P")
R = TypeVar("R")


class Exit(IntEnum):
    """A command's exit status (see the module docstring)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    DENIED = 3
    INTERRUPTED = 130


_ROLE_WORDS = {
    "workflow_designer": "designers",
    "workflow_operator": "operators",
    "workflow_admin": "admins",
}


def exit_code_of(exc: DagqError) -> Exit:
    """The exit status a :class:`DagqError` ends a command with."""
    if isinstance(exc, Unauthorized | Forbidden):
        return Exit.DENIED
    if isinstance(exc, Unavailable | ConfigError | BadRequest | ParameterError):
        return Exit.USAGE
    return Exit.FAILED


def denial(exc: Forbidden, action: str) -> str:
    """``permission denied: operators cannot purge dead letters (system:configure)``."""
    role = exc.details.get("role")
    permission = exc.details.get("permission")
    if not permission:
        return f"permission denied: {exc.message}"
    who = _ROLE_WORDS.get(role, f"{role} users") if isinstance(role, str) and role else None
    return f"permission denied: {who or 'users without a role'} cannot {action} ({permission})"


def message_of(exc: DagqError, action: str = "do this") -> str:
    """The one line that reports ``exc``: ``error [CODE]: message``."""
    message = denial(exc, action) if isinstance(exc, Forbidden) else exc.message
    if isinstance(exc, Unauthorized):
        message = f"authentication failed: {exc.message}"
    return f"error [{exc.code}]: {message}"


def fail(
    exc: DagqError, *, action: str = "do this", as_json: bool = False, code: Exit | None = None
) -> NoReturn:
    """Report ``exc`` on stderr (and its JSON on stdout with ``--json``) and exit.

    ``action`` completes "operators cannot ..." when a permission was refused; ``code``
    overrides :func:`exit_code_of`.
    """
    click.echo(message_of(exc, action), err=True)
    for line in issue_lines(exc.details.get("errors"), exc.details.get("warnings")):
        click.echo(line, err=True)
    if as_json:
        echo_json(exc.to_dict())
    raise SystemExit(code if code is not None else exit_code_of(exc))


def reported(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command's body; a :class:`DagqError` (or Redis or the OS failing) ends it
    through :func:`fail` instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DagqError as exc:
            fail(exc)
        except RedisError as exc:
            fail(Unavailable(f"Redis failed: {exc}"))
        except KeyboardInterrupt:
            raise SystemExit(Exit.INTERRUPTED) from None

    return wrapper
