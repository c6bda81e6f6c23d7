"""``dagq redis``: which Redis dagq uses, and the embedded server's start and stop.

With no Redis URL configured dagq uses an embedded ``redis-server`` in the data dir;
``dagq redis start`` starts it to stay (until ``dagq redis stop``), so several dagq
commands in a row share one server and its data.
"""

from __future__ import annotations

import json
from typing import Any

import click

from orchestrator.cli.exits import Exit, reported
from orchestrator.cli.redis_status import probe, render
from orchestrator.errors import ConfigError, Unavailable
from orchestrator.keys import Keys
from orchestrator.settings import Settings, load_settings
from orchestrator.store.connection import embedded_redis, redact_url
from orchestrator.store.embedded import EmbeddedRedis


def _keys(settings: Settings) -> Keys:
    return Keys(prefix=settings.workflow.storage.prefix, shards=settings.queue.shards)


def _status(settings: Settings) -> dict[str, Any]:
    if settings.redis_url:
        return {
            "kind": "external",
            "url": redact_url(settings.redis_url),
            **probe(settings.redis_url, _keys(settings)),
        }
    embedded = EmbeddedRedis(settings.data_dir)
    status: dict[str, Any] = {"kind": "embedded", "dir": str(embedded.dir)}
    url = embedded.url()
    if url is None:
        return {**status, "running": False, "reachable": False}
    return {
        **status,
        "running": True,
        "url": redact_url(url),
        "pid": embedded.pid(),
        "socket": str(embedded.socket_path) if embedded.socket_path.exists() else None,
        "keptRunning": embedded.keep_file.exists(),
        "fsync": embedded.fsync_policy(),
        **probe(url, _keys(settings)),
    }


@click.group("redis")
def redis_group() -> None:
    """The Redis dagq uses: status, and the embedded server's start and stop."""


@redis_group.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reported
def status(as_json: bool) -> None:
    """Which Redis is used, whether it answers, its version and memory, dagq's keys per
    shard and, for a cluster, its masters, replicas and the slots each master serves.

    Exits 1 when it cannot be reached (or the embedded one is not running).
    """
    info = _status(load_settings())
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        if info["kind"] == "external":
            click.echo(f"Redis:      external, {info['url']}")
        else:
            click.echo(f"Redis:      embedded, in {info['dir']}")
            if not info["running"]:
                click.echo("Running:    no (it starts on demand; `dagq redis start` keeps one up)")
            else:
                kept = "kept running" if info["keptRunning"] else "stops with its starter"
                click.echo(f"Running:    yes, pid {info['pid']} ({kept})")
                click.echo(f"URL:        {info['url']}")
                click.echo(f"AOF fsync:  {info['fsync']}")
                if info["socket"]:
                    click.echo(f"Socket:     {info['socket']}")
        if info["reachable"]:
            click.echo("Reachable:  yes")
            click.echo(f"Version:    {info['version']}")
            click.echo(f"Memory:     {info['usedMemory']} used, {info['peakMemory']} peak")
            click.echo(f"Keys:       {info['keys']}")
            for line in render(info):
                click.echo(line)
        elif info.get("error"):
            click.echo(f"Reachable:  no: {info['error']}")
    if not info["reachable"]:
        raise SystemExit(Exit.FAILED)


@redis_group.command()
@reported
def start() -> None:
    """Start the embedded Redis and keep it running until `dagq redis stop`."""
    settings = load_settings()
    if settings.redis_url:
        raise ConfigError(
            f"a Redis URL is configured ({redact_url(settings.redis_url)}): "
            "dagq does not use the embedded server; unset DAGQ_REDIS_URL to use it"
        )
    embedded = embedded_redis(settings)
    was_running = embedded.running()
    url = embedded.ensure(stay=True)
    verb = "already running" if was_running else "started"
    click.echo(f"embedded Redis {verb} at {redact_url(url)} (pid {embedded.pid()}, {embedded.dir})")


@redis_group.command()
@reported
def stop() -> None:
    """Stop the embedded Redis (its data stays in the data dir)."""
    settings = load_settings()
    embedded = EmbeddedRedis(settings.data_dir)
    if embedded.pid() is None:
        click.echo("embedded Redis is not running")
        return
    embedded.stop()
    click.echo(f"embedded Redis stopped (data kept in {embedded.dir})")


@redis_group.command()
@click.option(
    "--start", "start_it", is_flag=True, help="Start the embedded one (to stay) if needed."
)
@reported
def url(start_it: bool) -> None:
    """Print the Redis URL, password included (for scripts: keep it private)."""
    settings = load_settings()
    if settings.redis_url:
        click.echo(settings.redis_url)
        return
    embedded = embedded_redis(settings)
    found = embedded.ensure(stay=True) if start_it else embedded.url()
    if found is None:
        raise Unavailable(
            "the embedded Redis is not running; start it with `dagq redis start` "
            "(or `dagq redis url --start`)"
        )
    click.echo(found)


def _add_cluster_commands() -> None:
    from orchestrator.cli.redis_cluster_cmd import cluster_dev

    redis_group.add_command(cluster_dev)


_add_cluster_commands()
