"""``dagq bench``: measurements printed for people (or as JSON), never pass/fail tests.

A plain click group: other benchmarks add their subcommands to it.
"""

from __future__ import annotations

import json

import click

from orchestrator.bench import validate_bench


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
