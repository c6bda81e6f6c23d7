"""``dagq runs replay | gantt | diff`` and ``dagq workflows stats``: what happened in past runs."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

import click

from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.gantt_text import draw
from orchestrator.cli.remote.render import duration, echo_json, echo_table, shorten
from orchestrator.durations import DurationError, parse_duration


def _moment(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(f"{exc} (e.g. 2.5s, 1500ms, 1m)", param_hint="--at") from None
    return seconds


@click.command()
@click.argument("run_id")
@click.option("--at", "at", metavar="TIME", help="Seconds after the run's start: 2.5s, 1500ms.")
@click.option("--event", type=click.IntRange(0), default=None, help="After the N-th event.")
@json_option
@api_options
def replay(
    run_id: str,
    at: str | None,
    event: int | None,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Node statuses of RUN_ID as they were at a moment (default: its last event)."""
    if at is not None and event is not None:
        raise click.UsageError("give --at or --event, not both")
    at_s = _moment(at)
    out = Remote(api_url, api_key, as_json).run(
        "read runs", lambda c: c.replay_run(run_id, at_s=at_s, event=event)
    )
    if as_json:
        echo_json(out)
        return
    last = out.lastEvent or {}
    what = f"{last.get('type')} {last.get('nodeId') or ''}".strip() if last else "before any event"
    click.echo(
        f"run {run_id} at {out.at:g}s (event {out.event} of {out.events}: {what})"
        + (f"  run {out.status}" if out.status else "")
    )
    echo_table(("node", "status"), list(out.nodes.items()), "no nodes")
    if out.note:
        click.echo(f"note: {out.note}")


@click.command()
@click.argument("run_id")
@click.option("--width", type=click.IntRange(40, 400), default=None, help="Columns to draw in.")
@json_option
@api_options
def gantt(
    run_id: str, width: int | None, as_json: bool, api_url: str | None, api_key: str | None
) -> None:
    """RUN_ID's node attempts on a time axis, with its critical path."""
    out = Remote(api_url, api_key, as_json).run("read runs", lambda c: c.run_gantt(run_id))
    if as_json:
        echo_json(out)
        return
    cols = width or min(120, shutil.get_terminal_size((100, 24)).columns)
    state = "" if out.finished else " (still going)"
    click.echo(
        f"run {run_id}  {out.workflowId} v{out.workflowVersion}  {out.status}  "
        f"{duration(out.duration_ms)}{state}"
    )
    for line in draw(out, cols):
        click.echo(line)


def _ms(value: object) -> str:
    return duration(value) if isinstance(value, int | float) else "-"


def _change(d: Mapping[str, Any]) -> str:
    if d.get("change_ms") is None:
        return "-"
    sign = "+" if d["change_ms"] >= 0 else "-"
    pct = f" ({d['change'] * 100:+.0f}%)" if d.get("change") is not None else ""
    return f"{sign}{duration(abs(d['change_ms']))}{pct}"


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@json_option
@api_options
def diff(run_a: str, run_b: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Compare two runs of one workflow: branches, outputs, durations, versions."""
    out = Remote(api_url, api_key, as_json).run("read runs", lambda c: c.diff_runs(run_a, run_b))
    if as_json:
        echo_json(out)
        return
    va, vb = out.versions
    click.echo(f"{out.workflow}: A = {run_a} (v{va}), B = {run_b} (v{vb})")
    if out.versions_differ:
        changes = ", ".join(f"{n} {k}" for n, k in sorted(out.version_diff.items()))
        click.echo(f"versions differ: v{va} → v{vb}: {changes or 'layout only'}")
    click.echo("branches:")
    echo_table(
        ("node", "A", "B"),
        [(b["node"], _branch(b, "a"), _branch(b, "b")) for b in out.branches],
        "  same branches",
    )
    click.echo("outputs:")
    rows = [
        (node, d["path"], d["op"], shorten(d.get("a", ""), 30), shorten(d.get("b", ""), 30))
        for node, diffs in out.outputs.items()
        for d in diffs
    ]
    echo_table(("node", "path", "change", "A", "B"), rows, "  same outputs")
    click.echo("durations:")
    echo_table(
        ("node", "A", "B", "change", "A running", "B running"),
        [
            (d["node"], _ms(d["a_ms"]), _ms(d["b_ms"]), _change(d),
             _ms(d.get("a_exec_ms")), _ms(d.get("b_exec_ms")))
            for d in out.durations
        ],
        "  no durations",
    )  # fmt: skip


def _branch(b: Mapping[str, Any], side: str) -> str:
    status = str(b.get(side) or "-")
    taken = b.get(f"taken_{side}")
    return status + (f" → {', '.join(taken) or 'no edge'}" if taken is not None else "")


@click.command()
@click.argument("workflow_id")
@click.option("--last", type=click.IntRange(1, 200), default=20, show_default=True)
@json_option
@api_options
def stats(
    workflow_id: str, last: int, as_json: bool, api_url: str | None, api_key: str | None
) -> None:
    """p50/p95 duration of each node over WORKFLOW_ID's last finished runs."""
    out = Remote(api_url, api_key, as_json).run(
        "read runs", lambda c: c.workflow_stats(workflow_id, last=last)
    )
    if as_json:
        echo_json(out)
        return
    click.echo(f"{workflow_id}: {out.runs} finished runs")
    ordered = sorted(out.nodes.items(), key=lambda kv: -kv[1].p95_ms)
    rows = [
        (n, s.runs, _ms(s.p50_ms), _ms(s.p95_ms), _ms(s.max_ms),
         _ms(s.exec_p50_ms), _ms(s.exec_p95_ms))
        for n, s in ordered
    ]  # fmt: skip
    headers = ("node", "runs", "p50", "p95", "max", "running p50", "running p95")
    echo_table(headers, rows, "no finished runs")
