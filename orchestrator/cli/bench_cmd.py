"""``dagq bench``: measurements printed for people (or as JSON), never pass/fail tests.

The heavy benchmarks (throughput against Celery and RQ, latency, the design's
table, scale) import their modules only when run.  ``dagq bench canvas`` lives in
the app layer and is attached by the top-level command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from orchestrator.bench import validate_bench
from orchestrator.cli.bench_common import ints, machine_line, progress
from orchestrator.cli.bench_scale_cmds import (
    map_cmd,
    memory_cmd,
    scale_cmd,
    sweep_cmd,
    table_cmd,
)
from orchestrator.cli.exits import Exit, fail
from orchestrator.errors import DagqError


@click.group()
def bench() -> None:
    """Benchmarks (timings are printed, not judged)."""


@bench.command("validate")
@click.option("--nodes", type=click.IntRange(min=1, max=100_000), default=500, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the generated spec.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
def validate_cmd(nodes: int, repeat: int, seed: int, as_json: bool) -> None:
    """Time loading + validating a generated workflow of --nodes nodes."""
    report = validate_bench.run(nodes, repeat, seed=seed)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(
        f"validate: {report['nodes']} nodes, {report['edges']} edges, {report['repeat']} repeats "
        f"(yaml {report['bytes']['yaml']} B, json {report['bytes']['json']} B)"
    )
    click.echo(f"  {'measurement':<14} {'min ms':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for name, t in report["timings"].items():
        click.echo(f"  {name:<14} {t['min_ms']:>9.2f} {t['p50_ms']:>9.2f} {t['p99_ms']:>9.2f}")


@bench.command("isolation")
@click.option("--jobs", type=click.IntRange(min=10, max=1_000_000), default=2000, show_default=True)
@click.option(
    "--fork-jobs", type=click.IntRange(min=10, max=100_000), default=200, show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
def isolation_cmd(jobs: int, fork_jobs: int, as_json: bool) -> None:
    """Per-job cost of a handler in a thread, in a reused child process, and forked per job."""
    from orchestrator.bench import isolation_bench

    report = isolation_bench.run(jobs, fork_jobs)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    base = report["thread"]["mean_us"]
    click.echo("isolation: one trivial sync handler, jobs one after another")
    click.echo(
        f"  {'way':<14} {'jobs':>7} {'mean us':>9} {'p50 us':>9} {'p99 us':>9} {'vs thread':>10}"
    )
    for name, t in report.items():
        extra = t["mean_us"] - base
        click.echo(
            f"  {name:<14} {t['jobs']:>7} {t['mean_us']:>9.1f} {t['p50_us']:>9.1f} "
            f"{t['p99_us']:>9.1f} {extra:>+9.1f}"
        )


@bench.command("throughput")
@click.option("--quick", is_flag=True, help="Fewer runs: finishes in well under a minute.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Worker processes per peer.",
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=None,
    help="Runs of the diamond for dagq (default 3000, quick 800).",
)
@click.option(
    "--peer-runs",
    type=click.IntRange(min=1),
    default=None,
    help="Runs for Celery and RQ (default: --runs; quick 200).",
)
@click.option(
    "--peers",
    default="dagq,celery,rq,dramatiq,dbos",
    show_default=True,
    help="Which of dagq, celery, rq, dramatiq, dbos to run (a peer not installed is skipped).",
)
@click.option(
    "--dbos-database",
    type=click.Choice(["auto", "sqlite", "postgres"]),
    default="auto",
    show_default=True,
    help="DBOS's system database (postgres: a PostgreSQL the bench starts on a free port; "
    "auto: postgres when initdb and pg_ctl are installed, else sqlite).",
)
@click.option(
    "--ceiling-completions",
    type=click.IntRange(min=0),
    default=None,
    help="Completions of the Redis ceiling measured after the peers (default 200000, "
    "quick 100000; 0: skip it).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 4096),
    default=64,
    show_default=True,
    help="Jobs in flight per dagq worker.",
)
@click.option(
    "--orchestrator",
    type=click.Choice(["embedded", "separate"]),
    default="embedded",
    show_default=True,
    help="dagq's orchestrator loop inside each worker, or one extra process.",
)
@click.option("--sweep", default=None, help="Worker counts to run in turn, e.g. 1,2,4.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a plot (PNG): the peers side by side (nodes/s, CPU per node); with "
    "--sweep, nodes/s against worker processes.",
)
@click.option(
    "--redis-url",
    default=None,
    help="Run dagq on this Redis (redis+cluster://... for a cluster) instead of a fresh "
    "server: dagq only, under a key prefix of its own that is deleted afterwards.",
)
@click.option(
    "--shards",
    type=click.IntRange(1, 1024),
    default=1,
    show_default=True,
    help="queue.shards of dagq with --redis-url (spreads runs over a cluster's masters).",
)
@click.option(
    "--wait-replicas",
    type=click.IntRange(0, 16),
    default=0,
    show_default=True,
    help="redis.wait_replicas of dagq with --redis-url (measures what WAIT costs).",
)
def throughput_cmd(
    quick: bool,
    as_json: bool,
    workers: int,
    runs: int | None,
    peer_runs: int | None,
    peers: str,
    concurrency: int,
    orchestrator: str,
    sweep: str | None,
    plot: Path | None,
    redis_url: str | None,
    shards: int,
    wait_replicas: int,
    dbos_database: str,
    ceiling_completions: int | None,
) -> None:
    """Nodes/s of dagq and its peers running the same 10-task DAG on one Redis, and
    dagq's share of the Redis ceiling (``dagq bench ceiling``) measured on that server."""
    from orchestrator.bench import throughput

    names = tuple(p.strip() for p in peers.split(",") if p.strip())
    if redis_url and peers == "dagq,celery,rq,dramatiq,dbos":
        names = ("dagq",)  # the peers need a server of their own (see --redis-url)
    options: dict[str, Any] = {
        "workers": workers,
        "runs": runs,
        "peer_runs": peer_runs,
        "peers": names,
        "concurrency": concurrency,
        "orchestrator": orchestrator,
        "progress": progress(as_json),
        "redis_url": redis_url,
        "shards": shards,
        "wait_replicas": wait_replicas,
        "dbos_database": dbos_database,
        "ceiling_completions": ceiling_completions,
    }
    if quick:
        cfg = throughput.ThroughputConfig.quick(**options)
    else:
        cfg = throughput.ThroughputConfig(**{k: v for k, v in options.items() if v is not None})
    try:
        results = throughput.sweep(cfg, ints(sweep)) if sweep else [throughput.run(cfg)]
        if plot is not None:
            from orchestrator.bench.plots import throughput_plot

            throughput_plot(results, plot)
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(json.dumps(results if sweep else results[0], indent=2))
        return
    for report in results:
        _print_throughput(report)
    if plot is not None:
        click.echo(f"plot: {plot}")


def _print_throughput(report: dict[str, Any]) -> None:
    c = report["config"]
    click.echo(f"throughput: {c['dag']}, {c['workers']} worker process(es) per peer")
    if c.get("redis", "a fresh redis-server") != "a fresh redis-server":
        click.echo(
            f"  on {c['redis']}: queue.shards {c['shards']}, "
            f"redis.wait_replicas {c['wait_replicas']} (redis cpu s: every node, replicas too)"
        )
    click.echo(
        f"  {'peer':<9} {'runs':>6} {'seconds':>8} {'nodes/s':>10} {'nodes/min':>11} "
        f"{'cpu s':>7} {'db cpu s':>9} {'cpu ms/node':>12}"
    )
    for peer in ("dagq", "celery", "rq", "dramatiq", "dbos"):
        if peer in report:
            r = report[peer]
            click.echo(
                f"  {peer:<9} {r['runs']:>6} {r['seconds']:>8.2f} {r['nodes_per_s']:>10,.0f} "
                f"{r['nodes_per_min']:>11,} {r['workers_cpu_s']:>7.2f} {r['redis_cpu_s']:>9.2f} "
                f"{r['cpu_ms_per_node']:>12.3f}"
            )
    for peer, why in report.get("skipped", {}).items():
        click.echo(f"  {peer:<9} skipped: {why}")
    for name, ratio in report["ratios"].items():
        click.echo(f"  {name.replace('_', ' ')}: {ratio:.1f}x")
    if "ceiling" in report:
        line = f"  Redis ceiling: {report['ceiling']['completions_per_s']:,.0f} completions/s"
        if "ceiling_fraction" in report.get("dagq", {}):
            line += f"; dagq reaches {report['dagq']['ceiling_fraction']:.1%} of it"
        click.echo(line)
    click.echo("  " + machine_line(report["machine"]))


@bench.command("ceiling")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--completions",
    type=click.IntRange(min=10),
    default=200_000,
    show_default=True,
    help="Completions per client count.",
)
@click.option(
    "--clients", default="1,2,4", show_default=True, help="Client process counts to try in turn."
)
@click.option(
    "--pipeline",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Calls per pipelined batch.",
)
def ceiling_cmd(as_json: bool, completions: int, clients: str, pipeline: int) -> None:
    """Node completions/s a fresh Redis can take: one Lua call of the hot path's shape each."""
    from orchestrator.bench import ceiling

    cfg = ceiling.CeilingConfig(
        completions=completions,
        clients=ints(clients),
        pipeline=pipeline,
        progress=progress(as_json),
    )
    try:
        report = ceiling.run(cfg)
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"ceiling: {report['config']['script']}, {pipeline} calls per batch")
    click.echo(f"  {'clients':>7} {'completions/s':>14} {'redis cpu s':>12} {'µs/completion':>14}")
    for r in report["by_clients"]:
        click.echo(
            f"  {r['clients']:>7} {r['completions_per_s']:>14,.0f} {r['redis_cpu_s']:>12.2f} "
            f"{r['redis_cpu_us_per_completion']:>14.2f}"
        )
    click.echo(
        f"  ceiling: {report['completions_per_s']:,.0f} completions/s "
        f"({report['best_clients']} client(s))"
    )
    click.echo("  " + machine_line(report["machine"]))


@bench.command("fsync")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--policies",
    default="everysec,always",
    show_default=True,
    help="appendfsync policies to measure in turn (always, everysec, no).",
)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--runs", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the servers write their AOF (default: <data dir>/bench, the embedded "
    "Redis's disk).",
)
def fsync_cmd(as_json: bool, policies: str, workers: int, runs: int, folder: Path | None) -> None:
    """dagq's throughput on the embedded Redis with each AOF fsync policy: the durability cost."""
    from orchestrator.bench import durability
    from orchestrator.settings import load_settings

    names = [p.strip() for p in policies.split(",") if p.strip()]
    try:
        where = folder or durability.default_folder(load_settings().data_dir)
        report = durability.run(
            names, folder=where, workers=workers, runs=runs, progress=progress(as_json)
        )
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    c = report["config"]
    click.echo(
        f"fsync: {c['dag']}, {c['workers']} worker process(es), {c['runs']} runs per policy, "
        f"AOF on {c['filesystem'] or 'an unknown filesystem'} ({c['folder']})"
    )
    click.echo(
        f"  {'appendfsync':<12} {'nodes/s':>10} {'vs everysec':>12} {'redis cpu s':>12} "
        f"{'start p50 ms':>13} {'start p99 ms':>13} {'SET p50 ms':>11}"
    )
    for name, r in report["policies"].items():
        start = r["start_run_ms"]
        click.echo(
            f"  {name:<12} {r['nodes_per_s']:>10,.0f} {r['vs_everysec']:>11.2f}x "
            f"{r['redis_cpu_s']:>12.2f} {start['p50_ms']:>13.2f} {start['p99_ms']:>13.2f} "
            f"{r['set_ms']['p50_ms']:>11.2f}"
        )
    click.echo("  " + machine_line(report["machine"]))


@bench.command("latency")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--clients",
    type=click.IntRange(1, 1024),
    default=16,
    show_default=True,
    help="Concurrent API clients.",
)
@click.option(
    "--requests",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Calls per operation.",
)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option(
    "--api-processes",
    type=click.IntRange(1, 256),
    default=None,
    help="dagq api --processes (default: one per core).",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the latency CDF plot (PNG).",
)
def latency_cmd(
    as_json: bool,
    clients: int,
    requests: int,
    workers: int,
    api_processes: int | None,
    plot: Path | None,
) -> None:
    """p50/p99 of create workflow, start run and status query through the API; node hop."""
    from orchestrator.bench import latency

    try:
        report = latency.run(
            clients=clients,
            requests=requests,
            workers=workers,
            api_processes=api_processes,
            progress=progress(as_json),
        )
        if plot is not None:
            from orchestrator.bench.plots import latency_cdf

            latency_cdf(report["samples_ms"], plot)
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(latency.dumps_without_samples(report).decode())
        return
    c = report["config"]
    click.echo(
        f"latency: {c['clients']} concurrent clients, {c['requests']} calls each, "
        f"{c['workers']} worker(s), {c['api_processes']} API process(es)"
    )
    click.echo(f"  {'operation':<16} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for op in ("create_workflow", "start_run", "status_query", "node_hop"):
        s = report[op]
        click.echo(
            f"  {op:<16} {s['p50_ms']:>8.2f} {s['p90_ms']:>8.2f} {s['p99_ms']:>8.2f} "
            f"{s['max_ms']:>8.2f}"
        )
    click.echo("  " + machine_line(report["machine"]))


for _command in (table_cmd, scale_cmd, memory_cmd, sweep_cmd, map_cmd):
    bench.add_command(_command)
