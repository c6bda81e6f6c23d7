"""``dagq login-link``: a fresh one-time sign-in link for the running ``dagq up``.

The link ``dagq up`` prints works once.  This command finds the stack running on the data
dir (its lock names its web address), stores a new link in the stack's Redis (good once,
for :data:`~serve.web_store.LINK_TTL_S` seconds, on any replica) and prints it.  Making a
link is a change to who can sign in: it is audited like ``dagq user`` (source ``cli``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click
import orjson

from orchestrator.client import LOCAL_CONFIG
from orchestrator.errors import DagqError, NotFound
from orchestrator.logs import setup_logging
from orchestrator.runtime.datadir_lock import running_stack
from orchestrator.runtime.stack import LOCAL_ADMIN, local_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.settings import Settings, load_settings
from serve.web_store import LINK_TTL_S, OneTimeLink


async def _mint(settings: Settings, user: str) -> str:
    """Store a one-time link signing ``user`` in; its token."""
    from orchestrator.cli.audited import cli_audit
    from orchestrator.store.connection import connect

    conn = await connect(settings)
    try:
        link = OneTimeLink(conn.redis, conn.keys, ttl_s=LINK_TTL_S)
        async with cli_audit(settings, conn) as audit:
            if audit is None:
                await link.publish(user)
            else:
                await audit.change(
                    "createLoginLink",
                    f"user {user}",
                    lambda: link.publish(user),
                    done=lambda _: f"valid once, for {LINK_TTL_S // 60} minutes",
                )
        return link.token
    finally:
        await conn.aclose()


def _policies(settings: Settings) -> Path:
    """The running stack's policies folder (``local.json`` records it), else the default."""
    try:
        recorded = orjson.loads((Path(settings.data_dir) / LOCAL_CONFIG).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        recorded = None
    folder = recorded.get("policies_dir") if isinstance(recorded, dict) else None
    return Path(folder) if isinstance(folder, str) else local_policies_dir(settings)


@click.command("login-link")
@click.option(
    "--user",
    default=LOCAL_ADMIN,
    show_default=True,
    help="Who the link signs in (an enabled user of the stack's policies).",
)
def login_link(user: str) -> None:
    """Print a new one-time sign-in link for the `dagq up` running on this data dir."""
    setup_logging("login-link", level=logging.WARNING)
    try:
        settings = load_settings()
        stack = running_stack(settings.data_dir)
        if stack is None:
            raise NotFound(
                f"no dagq up runs on the data dir {settings.data_dir}; start one with `dagq up` "
                "(it prints a sign-in link)"
            )
        web_url = stack.get("web_url")
        if not isinstance(web_url, str):
            who = f"{stack.get('command', 'a dagq process')} (pid {stack.get('pid')})"
            raise NotFound(f"{who} runs on {settings.data_dir} without a web front end")
        account = UserStore.in_dir(_policies(settings)).get(user)
        if account is None or account.disabled:
            raise NotFound(f"{user!r} is not an enabled user of this stack")
        token = asyncio.run(_mint(settings, user))
    except DagqError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Sign in as {user} with this link (it works once, for {LINK_TTL_S // 60} minutes):")
    click.echo(f"    {web_url}/?token={token}")
