"""``dagq redis cluster-dev``: a throwaway Redis Cluster on loopback, for trying dagq on one.

It starts 3 masters and 3 replicas (``--masters``/``--replicas``) from the same
``redis-server`` the tests use, prints the ``DAGQ_REDIS_URL`` that selects it, and stops
them (removing their data) on Ctrl+C or SIGTERM.  Not for production: no password, no
persistence, loopback only.
"""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType

import click

from orchestrator.errors import DagqError
from orchestrator.store.devcluster import DevCluster


@click.command("cluster-dev")
@click.option("--masters", default=3, show_default=True, type=click.IntRange(3, 16))
@click.option(
    "--replicas",
    default=1,
    show_default=True,
    type=click.IntRange(0, 3),
    help="Replicas per master.",
)
@click.option(
    "--node-timeout-ms",
    default=2000,
    show_default=True,
    type=click.IntRange(100),
    help="cluster-node-timeout: how long a silent master lasts before failover.",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the nodes keep their files (default: a temporary folder).",
)
def cluster_dev(masters: int, replicas: int, node_timeout_ms: int, folder: Path | None) -> None:
    """Run a local Redis Cluster until Ctrl+C and print the URL that selects it."""
    where = folder or Path(tempfile.mkdtemp(prefix="dagq-cluster-"))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    cluster = DevCluster(where, masters=masters, replicas=replicas, node_timeout_ms=node_timeout_ms)
    try:
        try:
            cluster.start()
        except DagqError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(
            f"Redis Cluster ready: {masters} masters, {masters * replicas} replicas in {where}"
        )
        click.echo(f"DAGQ_REDIS_URL={cluster.url}")
        click.echo("Ctrl+C stops it and removes its files.")
        while not stop.wait(3600):
            pass
    finally:
        cluster.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Redis Cluster stopped")
