"""``dagq user``: manage API users (keys, passwords, roles) in the policies directory.

Commands that issue a key print it alone on the last line of stdout, so scripts can
take it with ``tail -n1``; prompts go to stderr.  Every change is audited (see
``cli.audited``): without a reachable Redis for the trail, nothing is changed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from orchestrator.cli.exits import reported
from orchestrator.errors import DagqError, NotFound
from orchestrator.security.policy_file import POLICY_FILE, ensure_policies_dir, user_roles
from orchestrator.security.rbac import ROLES
from orchestrator.security.users import (
    ROLE_ALIASES,
    User,
    UserStore,
    check_password,
    normalize_role,
)

R = TypeVar("R")

_ROLE_CHOICE = click.Choice([*ROLES, *ROLE_ALIASES], case_sensitive=False)


def policies_dir(explicit: Path | None) -> Path:
    """``--policies``, else ``$DAGQ_POLICIES_DIR``, else the configured policies dir, else
    the running local stack's (``dagq up`` records it in ``local.json``), else ``./policies``
    or the data dir's."""
    if explicit is not None:
        return explicit
    env = os.environ.get("DAGQ_POLICIES_DIR")
    if env:
        return Path(env)
    from orchestrator.settings import load_settings

    settings = load_settings()
    if settings.policies_dir is not None:
        return settings.policies_dir
    return _local_stack_policies(settings.data_dir) or settings.resolved_policies_dir()


def _local_stack_policies(data_dir: Path) -> Path | None:
    """The policies dir of the local stack recorded in ``<data dir>/local.json``, if any."""
    import orjson

    from orchestrator.client import LOCAL_CONFIG

    try:
        recorded = orjson.loads((Path(data_dir) / LOCAL_CONFIG).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    value = recorded.get("policies_dir") if isinstance(recorded, dict) else None
    return Path(value) if isinstance(value, str) and value else None


def _store(explicit: Path | None) -> UserStore:
    directory = ensure_policies_dir(policies_dir(explicit))
    return UserStore.in_dir(directory)


def _changed(
    store: UserStore,
    action: str,
    name: str,
    change: Callable[[], R],
    *,
    detail: str | None = None,
    done: Callable[[R], str | None] | None = None,
) -> R:
    """Make one change to the users through the audit trail (entry before, outcome after);
    the files it rewrites are then on record, so the API's reload does not log them again."""
    from orchestrator.cli.audited import cli_audit, run_sync
    from orchestrator.security.file_audit import FileState
    from orchestrator.security.rbac import read_policy_files
    from orchestrator.settings import load_settings

    def files() -> tuple[FileState, FileState]:
        policy = read_policy_files(store.policy_path.parent)
        return FileState.of_policy(policy), FileState.of_users(store.in_force())

    async def job() -> R:
        async with cli_audit(load_settings()) as audit:
            if audit is None:
                return change()
            store.reload_if_changed()
            before = files()

            async def make() -> R:
                return await asyncio.to_thread(change)

            async def adopt() -> None:  # before the entry completes: see file_audit
                for old, new in zip(before, files(), strict=True):
                    await audit.adopt(old, new)

            return await audit.change(
                action, f"user {name}", make, detail=detail, done=done, settle=adopt
            )

    return run_sync(job)


_policies_option = click.option(
    "--policies",
    "policies",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Policies directory (default: $DAGQ_POLICIES_DIR, the local stack's, ./policies).",
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise click.UsageError("no password on stdin")
        return password
    value: str = click.prompt(
        "Password",
        hide_input=True,
        confirmation_prompt=True,
        err=True,
        value_proc=_long_enough,  # checked before the confirmation is asked for
    )
    return value


def _long_enough(password: str) -> str:
    try:
        check_password(password)
    except DagqError as exc:
        raise click.UsageError(exc.message) from None
    return password


@click.group("user")
def user() -> None:
    """Manage API users: keys, web passwords and roles."""


@user.command("add")
@click.argument("name")
@click.option("--role", "-r", required=True, type=_ROLE_CHOICE, help="Role of the new user.")
@click.option("--password", "ask_password", is_flag=True, help="Prompt for a web password.")
@click.option("--password-stdin", is_flag=True, help="Read the web password from stdin.")
@_policies_option
@reported
def add_cmd(
    name: str, role: str, ask_password: bool, password_stdin: bool, policies: Path | None
) -> None:
    """Create user NAME with ROLE and print its new API key (shown once) on the last line."""
    store = _store(policies)
    password = _read_password(password_stdin) if (ask_password or password_stdin) else None
    created, key = _changed(
        store,
        "addUser",
        name,
        lambda: store.add(name, role, password=password),
        detail=f"role {normalize_role(role)}" + (", web password" if password else ""),
        done=lambda made: f"API key {made[0].api_keys[0].id}",
    )
    click.echo(f"created user {created.name} with role {created.role}")
    click.echo(f"policy: {store.policy_path} (g, {created.name}, {created.role})")
    click.echo(f"web password: {'set' if created.has_password else 'not set'}")
    click.echo("API key (shown once, store it now):")
    click.echo(key)


@user.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_policies_option
@reported
def ls_cmd(as_json: bool, policies: Path | None) -> None:
    """List users: name, role, keys, password, created."""
    store = _store(policies)
    try:
        granted = user_roles(store.policy_path.read_text("utf-8"))
    except OSError:
        granted = {}
    users = store.list()
    if as_json:
        rows = [_row_json(u, granted.get(u.name, [])) for u in users]
        click.echo(json.dumps(rows, indent=2))
        return
    if not users:
        click.echo(f"no users in {store.path}")
        return
    table = [("NAME", "ROLE", "KEYS", "PASSWORD", "CREATED", "STATUS")]
    for u in users:
        table.append(
            (
                u.name,
                _role_text(u, granted.get(u.name, [])),
                str(len(u.api_keys)),
                "set" if u.has_password else "-",
                u.created.strftime("%Y-%m-%d %H:%M"),
                "disabled" if u.disabled else "active",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _role_text(u: User, policy_roles: list[str]) -> str:
    # policy.csv decides; say so when an admin's hand edit made it differ from users.yaml.
    if policy_roles == [u.role]:
        return u.role
    if not policy_roles:
        return f"{u.role} (no g line in {POLICY_FILE}: denied everything)"
    return f"{', '.join(policy_roles)} (per {POLICY_FILE})"


def _row_json(u: User, policy_roles: list[str]) -> dict[str, object]:
    return {
        "name": u.name,
        "role": u.role,
        "policyRoles": policy_roles,
        "keys": [k.id for k in u.api_keys],
        "passwordSet": u.has_password,
        "disabled": u.disabled,
        "created": u.created.isoformat(),
        "updated": u.updated.isoformat(),
    }


@user.command("rm")
@click.argument("name")
@_policies_option
@reported
def rm_cmd(name: str, policies: Path | None) -> None:
    """Remove user NAME: its keys stop working and its role line goes."""
    store = _store(policies)
    _changed(store, "removeUser", name, lambda: store.remove(name))
    click.echo(f"removed user {name}")


@user.command("rotate")
@click.argument("name")
@_policies_option
@reported
def rotate_cmd(name: str, policies: Path | None) -> None:
    """Give NAME a new API key (printed on the last line) and revoke its old ones."""
    store = _store(policies)
    key = _changed(
        store,
        "rotateUserKey",
        name,
        lambda: store.rotate(name),
        done=lambda new: f"new API key {new.split('_')[1]}; older keys revoked",
    )
    click.echo(f"rotated the API key of {name}; older keys no longer work")
    click.echo("API key (shown once, store it now):")
    click.echo(key)


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--clear", is_flag=True, help="Remove the password (no web login).")
@_policies_option
@reported
def passwd_cmd(name: str, password_stdin: bool, clear: bool, policies: Path | None) -> None:
    """Set (or --clear) the web-login password of NAME."""
    store = _store(policies)
    if store.get(name) is None:
        raise NotFound(f"no user called {name!r}")
    if clear:
        _changed(store, "clearUserPassword", name, lambda: store.set_password(name, None))
        click.echo(f"cleared the password of {name}")
        return
    password = _read_password(password_stdin)
    _changed(store, "setUserPassword", name, lambda: store.set_password(name, password))
    click.echo(f"set the password of {name}")


@user.command("role")
@click.argument("name")
@click.argument("role", type=_ROLE_CHOICE)
@_policies_option
@reported
def role_cmd(name: str, role: str, policies: Path | None) -> None:
    """Change the role of NAME (in users.yaml and policy.csv)."""
    store = _store(policies)
    changed = _changed(
        store,
        "setUserRole",
        name,
        lambda: store.set_role(name, role),
        detail=f"role -> {normalize_role(role)}",
    )
    click.echo(f"{name} now has role {changed.role}")


@user.command("disable")
@click.argument("name")
@_policies_option
@reported
def disable_cmd(name: str, policies: Path | None) -> None:
    """Refuse NAME's keys and password without deleting the user."""
    store = _store(policies)
    _changed(store, "disableUser", name, lambda: store.set_disabled(name, True))
    click.echo(f"disabled {name}")


@user.command("enable")
@click.argument("name")
@_policies_option
@reported
def enable_cmd(name: str, policies: Path | None) -> None:
    """Accept NAME's keys and password again."""
    store = _store(policies)
    _changed(store, "enableUser", name, lambda: store.set_disabled(name, False))
    click.echo(f"enabled {name}")
