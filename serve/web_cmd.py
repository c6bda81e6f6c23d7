"""``dagq web``: the designer in the browser, behind a login.

Prints the one-time sign-in URL (as Jupyter does) on stdout once the port is bound; logs go to
stderr.  Needs the deployment's Redis (``redis_url``, else the embedded one in the data dir):
sign-outs, sign-in links and sign-in throttling are kept there, shared by every replica.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
import redis.asyncio as aioredis

from orchestrator.cli.exits import Exit, fail
from orchestrator.errors import ConfigError, DagqError, Unavailable
from orchestrator.keys import Keys
from orchestrator.logs import setup_logging
from orchestrator.security import tokens
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.settings import Settings, load_settings
from serve.server import DagqServer, stop_on_signals
from serve.web_store import WebStore


def api_url_of(settings: Settings) -> str:
    """The API's base URL: ``api.url``, else ``http://{api.host}:{api.port}``."""
    if settings.api.url:
        return settings.api.url.rstrip("/")
    host = "127.0.0.1" if settings.api.host in {"", "0.0.0.0", "::"} else settings.api.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.api.port}"


def first_admin(users: UserStore) -> str | None:
    """The first enabled ``workflow_admin`` of the users file, by name."""
    for user in users.list():
        if user.role == "workflow_admin" and not user.disabled:
            return user.name
    return None


def build_server(
    settings: Settings,
    *,
    redis: aioredis.Redis,
    keys: Keys,
    host: str | None = None,
    port: int | None = None,
    api_url: str | None = None,
    public_url: str | None = None,
    policies: Path | None = None,
    admin: str | None = None,
    app_command: str | None = None,
) -> DagqServer:
    """A ``DagqServer`` from the settings (``web``, ``api``, data dir), options overriding them,
    keeping its shared state in ``redis`` under ``keys``."""
    directory = ensure_policies_dir(policies or settings.resolved_policies_dir())
    users = UserStore.in_dir(directory)
    if admin is not None:
        known = users.get(admin)
        if known is None or known.disabled:
            raise ConfigError(f"--admin {admin!r} is not an enabled user of {users.path}")
    else:
        admin = first_admin(users)
    secret = tokens.load_or_create_secret(settings.data_dir, configured=settings.api.jwt_secret)
    token_ttl_s = settings.api.jwt_ttl

    def mint(user: str, role: str) -> str:
        return tokens.mint(user, role, secret=secret, ttl_s=token_ttl_s)

    web = settings.web
    return DagqServer(
        app_command,
        users=users,
        token_minter=mint,
        api_url=api_url or api_url_of(settings),
        store=WebStore(redis, keys),
        # The same secret as the API's tokens, but the server derives separate keys from it
        # for cookies, so a session cookie can never pass as an API token.
        secret=secret,
        host=host or web.host,
        port=web.port if port is None else port,
        public_url=public_url or web.public_url,
        admin_user=admin,
        session_ttl_s=web.session_ttl,
        max_apps_per_user=web.max_apps_per_user,
        max_apps=web.max_apps,
        idle_timeout_s=web.idle_timeout,
    )


def announce(server: DagqServer) -> None:
    """Print where to sign in on stdout (``click.echo`` flushes, so wrappers see it at once)."""
    click.echo(f"dagq web is serving on {server.listen_url}")
    if server.admin_user is not None:
        click.echo(f"Sign in as {server.admin_user} with this one-time link:")
    else:
        click.echo(
            "No admin user yet: create one with `dagq user add NAME --role admin --password`."
        )
        click.echo("Sign in at:")
    click.echo(f"    {server.login_url}")


@click.command("web")
@click.option("--host", default=None, help="Interface to listen on (default: web.host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port (default: web.port)."
)
@click.option("--api", "api_url", default=None, help="Base URL of the dagq API the apps talk to.")
@click.option("--public-url", default=None, help="URL browsers use, when behind a reverse proxy.")
@click.option(
    "--policies",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Policies directory holding users.yaml (default: the settings').",
)
@click.option("--admin", default=None, help="User the one-time link signs in (default: an admin).")
@click.option(
    "--app-command",
    default=None,
    help="Shell command that starts one app per browser tab (default: this Python's `-m app`).",
)
def web(
    host: str | None,
    port: int | None,
    api_url: str | None,
    public_url: str | None,
    policies: Path | None,
    admin: str | None,
    app_command: str | None,
) -> None:
    """Serve the designer to browsers, behind a login."""
    setup_logging("web")
    try:
        asyncio.run(
            _serve(
                load_settings(),
                host=host,
                port=port,
                api_url=api_url,
                public_url=public_url,
                policies=policies,
                admin=admin,
                app_command=app_command,
            )
        )
    except DagqError as exc:
        fail(exc, code=Exit.USAGE)  # it cannot start
    except OSError as exc:
        fail(Unavailable(f"cannot serve: {exc}"))


async def _serve(settings: Settings, **options: Any) -> None:
    """Connect to Redis, serve until SIGINT/SIGTERM, then stop every app cleanly."""
    from orchestrator.store.connection import connect

    conn = await connect(settings)
    try:
        server = build_server(settings, redis=conn.redis, keys=conn.keys, **options)
        await server.run_until_stopped(stop_on_signals(), on_ready=announce)
    finally:
        await conn.aclose()
