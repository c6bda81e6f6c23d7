"""``dagq bench`` commands that measure dagq alone as the work grows: the design's table,
many runs at once (``scale``), Redis memory per finished run, the sweep, a large map.

Attached to the ``bench`` group by :mod:`orchestrator.cli.bench_cmd`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.cli.bench_common import ints, machine_line, progress
from orchestrator.cli.exits import Exit, fail
from orchestrator.errors import DagqError


@click.command("table")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--rows", default="5,20,50,100,500", show_default=True, help="Node counts (Appendix C rows)."
)
@click.option("--repeat", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def table_cmd(as_json: bool, rows: str, repeat: int, workers: int) -> None:
    """The design's Appendix C: execution time, peak memory, CPU per workflow size."""
    from orchestrator.bench import table

    sizes = ints(rows)
    if any(n > 1000 for n in sizes):
        raise click.BadParameter("rows are at most 1000 nodes", param_hint="--rows")
    try:
        report = table.run(sizes, repeat=repeat, workers=workers, progress=progress(as_json))
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"Appendix C: {repeat} runs per row, 1 orchestrator + {workers} worker processes")
    click.echo(
        f"  {'workflow':<14} {'nodes':>5} {'time p50':>9} {'(design)':>9} "
        f"{'memory':>8} {'(design)':>9} {'cpu':>6} {'(design)':>9}"
    )
    for r in report["rows"]:
        d = r["design"]
        click.echo(
            f"  {r['workflow']:<14} {r['nodes']:>5} {r['execution_ms']['p50']:>7.0f}ms "
            f"{d['execution_ms']:>7.0f}ms {r['memory_mb']['total']:>6.0f}MB "
            f"{d['memory_mb']:>7.0f}MB "
            f"{r['cpu_pct_machine']:>5.0f}% {d['cpu_pct']:>8.0f}%"
        )
    click.echo("  " + machine_line(report["machine"]))


@click.command("scale")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Runs active at once before the workers start.",
)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def scale_cmd(as_json: bool, runs: int, workers: int) -> None:
    """Start --runs runs at once, then drain them: time, orchestrator and worker memory."""
    from orchestrator.bench import scale

    try:
        report = scale.run(runs=runs, workers=workers, progress=progress(as_json))
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    r = report
    click.echo(
        f"scale: {r['runs']:,} runs of the diamond active at once "
        f"({r['redis_used_mb_all_active']:.0f} MB in Redis), {r['workers']} workers"
    )
    click.echo(
        f"  submitted in {r['submit_s']:.1f}s, drained in {r['drain_s']:.1f}s "
        f"(workers' start-up {r['workers_start_s']:.1f}s of it; "
        f"{r['nodes_per_s']:,.0f} nodes/s), {r['failed']} failed"
    )
    click.echo(
        f"  peak RSS: orchestrator {r['orchestrator_peak_rss_mb']:.0f} MB, "
        f"workers {r['workers_peak_rss_mb']:.0f} MB"
    )
    click.echo("  " + machine_line(r["machine"]))


@click.command("memory")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--kept",
    default="2000",
    show_default=True,
    help="Finished runs kept at each measurement, increasing (e.g. 1000,10000,100000).",
)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write Redis memory against finished runs kept (PNG).",
)
def memory_cmd(as_json: bool, kept: str, workers: int, plot: Path | None) -> None:
    """Redis memory per finished run of the 10-task DAG (default retention)."""
    from orchestrator.bench import memory

    try:
        report = memory.run(ints(kept), workers=workers, progress=progress(as_json))
        if plot is not None:
            from orchestrator.bench.plots import memory_plot

            memory_plot(report, plot)
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(
        f"memory: finished runs of the diamond kept {report['retention_s']:g} s "
        "(workflow.storage.ttl)"
    )
    click.echo(f"  {'finished runs':>13} {'used MB':>9} {'bytes/run':>10} {'inbox KB':>9}")
    for r in report["by_finished_runs"]:
        click.echo(
            f"  {r['finished_runs']:>13,} {r['used_mb']:>9.1f} {r['bytes_per_run']:>10,} "
            f"{r['inbox_kb']:>9.1f}"
        )
    parts = ", ".join(f"{k} {v:,} B" for k, v in report["one_run_keys_bytes"].items())
    click.echo(f"  one finished run's keys: {parts}")
    if plot is not None:
        click.echo(f"plot: {plot}")
    click.echo("  " + machine_line(report["machine"]))


@click.command("sweep")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--widths", default="1,10,100,500", show_default=True, help="Fan-out widths.")
@click.option("--depths", default="1,10,100,500", show_default=True, help="Chain lengths.")
@click.option(
    "--active",
    default="10,100,1000,10000",
    show_default=True,
    help="Runs of the diamond active at once, each drained on a deployment of its own "
    "('' for none).",
)
@click.option("--runs", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--in-flight", type=click.IntRange(1, 1000), default=4, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the three curves (PNG).",
)
def sweep_cmd(
    as_json: bool,
    widths: str,
    depths: str,
    active: str,
    runs: int,
    in_flight: int,
    workers: int,
    plot: Path | None,
) -> None:
    """nodes/s and run time p50 against DAG width, depth and runs active at once."""
    from orchestrator.bench import sweep

    try:
        report = sweep.run(
            widths=ints(widths) if widths else (),
            depths=ints(depths) if depths else (),
            active=ints(active) if active else (),
            runs=runs,
            in_flight=in_flight,
            workers=workers,
            progress=progress(as_json),
        )
        if plot is not None:
            from orchestrator.bench.plots import sweep_plot

            sweep_plot(report, plot)
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for axis in ("width", "depth"):
        for p in report[axis]:
            click.echo(
                f"  {axis} {p[axis]:>6,}: {p['nodes']:>4} nodes x {p['runs']:>5} runs, "
                f"run p50 {p['run_ms_p50']:>7.0f} ms, p99 {p['run_ms_p99']:>7.0f} ms, "
                f"{p['nodes_per_s']:>8,.0f} nodes/s"
            )
    for p in report["active_runs"]:
        click.echo(
            f"  active {p['active_runs']:>7,}: drained in {p['busy_s']:>7.1f} s, "
            f"{p['nodes_per_s']:>8,.0f} nodes/s, orchestrator {p['orchestrator_peak_rss_mb']:.0f} "
            f"MB, Redis {p['redis_used_mb_all_active']:.0f} MB (submitted in {p['submit_s']:.1f} s)"
        )
    if plot is not None:
        click.echo(f"plot: {plot}")
    click.echo("  " + machine_line(report["machine"]))


@click.command("map")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--items", type=click.IntRange(1, 10_000), default=10_000, show_default=True)
@click.option("--max-parallel", type=click.IntRange(1, 1000), default=500, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def map_cmd(as_json: bool, items: int, max_parallel: int, workers: int) -> None:
    """One run mapping over --items no-op items, then as many separate tasks: nodes/s of each."""
    from orchestrator.bench import fanout

    try:
        r = fanout.run(
            items=items, max_parallel=max_parallel, workers=workers, progress=progress(as_json)
        )
    except DagqError as exc:
        fail(exc, code=Exit.FAILED)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    click.echo(
        f"map: {r['items']:,} items in one run ({r['max_parallel']} at a time) in "
        f"{r['map_s']:.1f}s: {r['map_nodes_per_s']:,.0f} nodes/s"
    )
    click.echo(
        f"tasks: {r['tasks']:,} tasks in diamond runs in {r['tasks_s']:.1f}s: "
        f"{r['tasks_nodes_per_s']:,.0f} nodes/s; the map runs at {r['map_vs_tasks']:.2f}x"
    )
    click.echo("  " + machine_line(r["machine"]))
