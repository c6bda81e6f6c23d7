"""``dagq bench canvas``: the designer canvas's layout and render times.

Attached to the orchestrator's ``bench`` group by the top-level command line
(``serve.cli``), because the orchestrator layer never imports the app.
"""

from __future__ import annotations

import json
import sys

import click

from app.bench.canvas_bench import bench_canvas
from orchestrator.errors import DagqError


@click.command("canvas")
@click.option(
    "--nodes",
    "sizes",
    type=click.IntRange(1, 100_000),
    multiple=True,
    help="Graph size; repeatable (default: 100 and 500).",
)
@click.option("--repeat", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per size.")
def canvas(sizes: tuple[int, ...], repeat: int, as_json: bool) -> None:
    """Time the canvas layout and a 120x40 viewport render for 100 and 500 nodes."""
    reports = []
    try:
        for nodes in sizes or (100, 500):
            reports.append(bench_canvas(nodes, repeat))
    except DagqError as exc:
        click.echo(f"dagq bench canvas: {exc.message}", err=True)
        sys.exit(1)
    if as_json:
        for report in reports:
            click.echo(json.dumps(report))
        return
    click.echo(f"canvas: {repeat} repeats, viewport 120x40 (target: render p50 < 16 ms)")
    click.echo(
        f"  {'nodes':>6} {'edges':>6} {'layout p50':>11} {'p99':>8} {'render p50':>11} {'p99':>8}"
    )
    for r in reports:
        lay, ren = r["layout_ms"], r["render_ms"]
        click.echo(
            f"  {r['nodes']:>6} {r['edges']:>6} {lay['p50']:>9.2f}ms {lay['p99']:>6.2f}ms "
            f"{ren['p50']:>9.2f}ms {ren['p99']:>6.2f}ms"
        )
