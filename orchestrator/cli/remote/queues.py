"""``dagq queues ls | workers | dlq ls|requeue|purge`` over the HTTP API."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import click

from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.render import duration, echo_json, echo_table, shorten, table
from orchestrator.sizes import format_bytes
from orchestrator.wire.ops import LaneDepth, WorkerView

LANES = ("high", "normal", "low")


def _lane_order(lane: str) -> tuple[int, str]:
    return (LANES.index(lane) if lane in LANES else len(LANES), lane)


DepthRow = tuple[str, str, int, int, int, int | None]
"""``(handler, lane, length, waiting, pending, lag)``."""


def depth_rows(
    handlers: Mapping[str, Mapping[str, LaneDepth]], *, everything: bool = True
) -> list[DepthRow]:
    """A row per handler stream, sorted by handler then lane (high, normal, low); without
    ``everything``, only the streams holding jobs."""
    return [
        (handler, lane, d.length, d.waiting, d.pending, d.lag)
        for handler in sorted(handlers)
        for lane, d in sorted(handlers[handler].items(), key=lambda item: _lane_order(item[0]))
        if everything or d.length or d.pending
    ]


def _ago(ms: int | None) -> str:
    if ms is None:
        return ""
    return duration(max(0, int(time.time() * 1000) - int(ms))) + " ago"


def _resources(w: WorkerView) -> tuple[str, str, str]:
    """Memory and CPU reserved of the capacity, and the isolated children's usage."""
    capacity, reserved, usage = w.capacity, w.reserved, w.usage
    if capacity is None or reserved is None:
        return "", "", ""
    memory = f"{format_bytes(reserved.memory)} / {format_bytes(capacity.memory)}"
    cpu = f"{reserved.cpu:g} / {capacity.cpu:g}"
    children = ""
    if usage is not None and usage.children:
        children = f"{usage.children}: {format_bytes(usage.rss)}, {usage.cpu:g}s cpu"
    return memory, cpu, children


def worker_rows(workers: Sequence[WorkerView]) -> list[tuple[object, ...]]:
    """``(id, host, pid, in flight/concurrency, processed, memory, cpu, children, last seen,
    handlers)`` per worker."""
    return [
        (
            w.id,
            w.host,
            w.pid,
            f"{w.inFlight}/{w.concurrency}",
            w.processed,
            *_resources(w),
            _ago(w.lastSeenMs),
            shorten(",".join(w.handlers), 60),
        )
        for w in workers
    ]


@click.group()
def queues() -> None:
    """Job queues behind the API: depths, workers, dead letters."""


@queues.command("ls")
@click.option("--all", "everything", is_flag=True, help="Also list the empty job streams.")
@json_option
@api_options
def ls(everything: bool, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Queue depths per handler and lane, per shard, and how many workers are live."""
    data = Remote(api_url, api_key, as_json).run("read queues", lambda c: c.queues())
    if as_json:
        echo_json(data)
        return
    headers = ("handler", "lane", "length", "waiting", "pending", "lag")
    rows = depth_rows(data.handlers, everything=everything)
    hidden = len(depth_rows(data.handlers)) - len(rows)
    note = f"{hidden} empty job stream(s) not shown; --all lists them"
    if rows:
        click.echo(table(headers, rows))
        if hidden:
            click.echo(f"({note})")
    else:
        click.echo(f"no jobs waiting ({note})" if hidden else "no job streams yet")
    click.echo()
    shards = [(s.shard, s.inbox, s.timers, s.dlq) for s in data.shards]
    echo_table(("shard", "inbox", "timers", "dead letters"), shards, "no shards")
    click.echo()
    click.echo(f"{len(data.workers)} live worker(s), {data.deadLetters} dead letter(s)")


@queues.command()
@json_option
@api_options
def workers(as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Live workers: host, pid, jobs in flight, processed, memory and CPU reserved of their
    capacity, their isolated handlers' children, handlers."""
    data = Remote(api_url, api_key, as_json).run("read queues", lambda c: c.queues())
    if as_json:
        echo_json({"workers": data.workers})
        return
    headers = ("worker", "host", "pid", "in flight", "processed", "memory", "cpu", "children",
               "last seen", "handlers")  # fmt: skip
    echo_table(headers, worker_rows(data.workers), "no live workers")


@queues.group()
def dlq() -> None:
    """Dead-lettered jobs (admins): list, requeue, purge."""


_shard_option = click.option(
    "--shard", type=click.IntRange(0, 1023), default=None, help="Only this shard."
)


@dlq.command("ls")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@_shard_option
@json_option
@api_options
def dlq_ls(
    limit: int, shard: int | None, as_json: bool, api_url: str | None, api_key: str | None
) -> None:
    """Dead letters, oldest first."""
    letters = Remote(api_url, api_key, as_json).run(
        "list dead letters", lambda c: c.dead_letters(limit=limit, shard=shard)
    )
    if as_json:
        echo_json({"deadLetters": letters})
        return
    rows = [
        (
            d.id,
            d.shard,
            d.runId or "",
            d.nodeId or "",
            d.handler or "",
            d.deliveries,
            shorten(d.reason, 50),
        )
        for d in letters
    ]
    headers = ("id", "shard", "run", "node", "handler", "deliveries", "reason")
    echo_table(headers, rows, "no dead letters")


@dlq.command()
@click.argument("ids", nargs=-1, required=True)
@_shard_option
@api_options
def requeue(
    ids: tuple[str, ...], shard: int | None, api_url: str | None, api_key: str | None
) -> None:
    """Put dead letters back on their queues (their nodes run again)."""
    moved = Remote(api_url, api_key).run(
        "requeue dead letters", lambda c: c.requeue_dead(ids, shard=shard)
    )
    click.echo(f"requeued {moved} of {len(ids)}")


@dlq.command()
@click.argument("ids", nargs=-1, required=True)
@_shard_option
@api_options
def purge(
    ids: tuple[str, ...], shard: int | None, api_url: str | None, api_key: str | None
) -> None:
    """Delete dead letters (their attempts fail, as if the handler had failed)."""
    purged = Remote(api_url, api_key).run(
        "purge dead letters", lambda c: c.purge_dead(ids, shard=shard)
    )
    click.echo(f"purged {purged} of {len(ids)}")
