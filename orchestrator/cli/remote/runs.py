"""``dagq runs start | ls | get | cancel | retry | watch`` over the HTTP API."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from orchestrator.cli.exits import Exit
from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.logs import logs
from orchestrator.cli.remote.render import (
    duration,
    echo_json,
    echo_table,
    shorten,
    when,
)
from orchestrator.cli.remote.watch import (
    EventPrinter,
    Progress,
    follow,
    node_rows,
    waiting_line,
)
from orchestrator.client import DagqClient
from orchestrator.errors import NotFound
from orchestrator.vocab import RunStatus
from orchestrator.wire.runs import RunEvent, WorkflowRun


def parse_params(params_json: str | None, pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--params '{"a": 1}'`` merged with ``--param k=v`` (values JSON when they parse,
    strings otherwise: ``n=3`` is 3, ``name=abc`` is "abc")."""
    params: dict[str, Any] = {}
    if params_json:
        try:
            value = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--params") from None
        if not isinstance(value, dict):
            raise click.BadParameter(
                "must be a JSON object, e.g. '{\"quality\": 0.5}'", param_hint="--params"
            )
        params.update(value)
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--param")
        try:
            params[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[name.strip()] = raw
    return params


def _summary(run: WorkflowRun) -> list[str]:
    head = (
        f"run {run.runId}  {run.workflowId} v{run.workflowVersion}  "
        f"{run.status}  started {when(run.startTime)}"
    )
    if run.duration is not None:
        head += f"  took {duration(run.duration)}"
    lines = [head]
    if run.parent is not None:
        parent = run.parent
        lines.append(f"sub-workflow of run {parent.runId} (node {parent.nodeId})")
    if run.children:
        lines.append(f"sub-workflow runs: {len(run.children)}")
    if run.error:
        lines.append(f"error: {shorten(run.error, 200)}")
    return lines


def print_run(run: WorkflowRun, as_json: bool) -> None:
    """A run as JSON, or its summary and a table of its nodes."""
    if as_json:
        echo_json(run)
        return
    for line in _summary(run):
        click.echo(line)
    echo_table(("node", "status", "attempts", "duration", "last error"), node_rows(run), "no nodes")
    for line in progress_lines(run):
        click.echo(line)


def progress_lines(run: WorkflowRun) -> list[str]:
    """``per_record 37/100 (2 failed)`` for each map node: items settled of its total."""
    lines = []
    for node_id, node in run.nodes.items():
        p = node.progress
        if not p:
            continue
        line = f"{node_id} {p['done'] + p['failed']}/{p['total']} ({p['failed']} failed)"
        if p.get("inFlight"):
            line += f"  {p['inFlight']} in flight"
        lines.append(line)
    return lines


def _outcome(run: WorkflowRun) -> Exit:
    return Exit.OK if run.status == RunStatus.COMPLETED else Exit.FAILED


def _explain(node_id: str, note: str) -> None:
    click.echo(waiting_line(node_id, note), err=True)


async def _wait(client: DagqClient, run: WorkflowRun) -> WorkflowRun:
    return await follow(client, run.runId, lambda _event: None, on_waiting=_explain)


@click.group()
def runs() -> None:
    """Workflow runs behind the API: start, list, inspect, cancel, retry, watch."""


@runs.command()
@click.argument("workflow_id")
@click.option("--params", "params_json", metavar="JSON", help="Run parameters as a JSON object.")
@click.option(
    "--param", "pairs", multiple=True, metavar="NAME=VALUE", help="One parameter (repeatable)."
)
@click.option("--priority", type=click.IntRange(0, 10), default=None, help="0 (low) to 10 (high).")
@click.option("--version", type=click.IntRange(1), default=None, help="Pin this workflow version.")
@click.option("--tag", "tags", multiple=True, help="Tag the run (repeatable).")
@click.option(
    "--idempotency-key",
    "idempotency_key",
    metavar="KEY",
    default=None,
    help="Start at most once: the same key again prints the first run's id.",
)
@click.option("--wait", is_flag=True, help="Wait for the end; exit 1 unless it completed.")
@json_option
@api_options
def start(
    workflow_id: str,
    params_json: str | None,
    pairs: tuple[str, ...],
    priority: int | None,
    version: int | None,
    tags: tuple[str, ...],
    idempotency_key: str | None,
    wait: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Start a run of WORKFLOW_ID and print its id (with --wait: its outcome)."""
    params = parse_params(params_json, pairs)

    async def go(c: DagqClient) -> WorkflowRun:
        run = await c.start_run(
            workflow_id,
            params,
            priority=priority,
            tags=tags,
            version=version,
            idempotency_key=idempotency_key,
        )
        return await _wait(c, run) if wait else run

    run = Remote(api_url, api_key, as_json).run("start runs", go)
    if wait:
        print_run(run, as_json)
        raise SystemExit(_outcome(run))
    if as_json:
        echo_json(run)
    else:
        click.echo(run.runId)


@runs.command("ls")
@click.option("--workflow", "workflow_id", default=None, help="Only this workflow's runs.")
@click.option("--status", type=click.Choice([s.value for s in RunStatus]), default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@json_option
@api_options
def ls(
    workflow_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """List runs, newest first."""
    page = Remote(api_url, api_key, as_json).run(
        "list runs",
        lambda c: c.list_runs(workflow_id, status=status, limit=limit, offset=offset),
    )
    if as_json:
        echo_json({"runs": page.items, "total": page.total, "hasMore": page.has_more})
        return
    rows = [
        (
            r.runId,
            r.workflowId,
            r.workflowVersion,
            r.status,
            when(r.startTime),
            duration(r.duration),
            shorten(r.error or "", 50),
        )
        for r in page.items
    ]
    headers = ("run", "workflow", "version", "status", "started", "duration", "error")
    echo_table(headers, rows, "no runs")
    if page.has_more:
        click.echo(f"({offset + 1}-{offset + len(rows)} of {page.total}; more with --offset)")


@runs.command()
@click.argument("run_id")
@json_option
@api_options
def get(run_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Show a run and each node: status, attempts, duration, last error."""
    run = Remote(api_url, api_key, as_json).run("read runs", lambda c: c.get_run(run_id))
    print_run(run, as_json)


@runs.command()
@click.argument("run_id")
@api_options
def cancel(run_id: str, api_url: str | None, api_key: str | None) -> None:
    """Cancel a pending or running run (exit 1 when it has already ended)."""

    async def go(c: DagqClient) -> WorkflowRun:
        await c.cancel_run(run_id)
        return await c.get_run(run_id)

    run = Remote(api_url, api_key).run("cancel runs", go)
    click.echo(f"{run_id}: {run.status}")


@runs.command()
@click.argument("run_id")
@click.option("--from-node", default=None, metavar="NODE", help="Rerun from this node onwards.")
@click.option("--only-node", is_flag=True, help="Rerun only --from-node, then continue.")
@click.option(
    "--skip",
    "skip_nodes",
    multiple=True,
    metavar="NODE",
    help="Do not run NODE again: it counts as skipped and its successors go on (repeatable).",
)
@click.option("--wait", is_flag=True, help="Wait for the end; exit 1 unless it completed.")
@json_option
@api_options
def retry(
    run_id: str,
    from_node: str | None,
    only_node: bool,
    skip_nodes: tuple[str, ...],
    wait: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Run a failed, cancelled or compensated run again (the same run id)."""
    if only_node and from_node is None:
        raise click.UsageError("--only-node needs --from-node")

    async def go(c: DagqClient) -> WorkflowRun:
        run = await c.retry_run(
            run_id, from_node=from_node, only_node=only_node, skip_nodes=skip_nodes
        )
        return await _wait(c, run) if wait else run

    run = Remote(api_url, api_key, as_json).run("retry runs", go)
    if wait:
        print_run(run, as_json)
        raise SystemExit(_outcome(run))
    if as_json:
        echo_json(run)
    else:
        where = f" from {from_node}" if from_node else ""
        click.echo(f"{run_id}: retried{where}, {run.status}")


async def _latest(c: DagqClient) -> str:
    page = await c.list_runs(None, limit=1)
    if not page.items:
        raise NotFound("there are no runs to watch yet; start one with `dagq runs start`")
    run_id: str = page.items[0].runId
    click.echo(f"watching the latest run, {run_id}", err=True)
    return run_id


@runs.command()
@click.argument("run_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line.")
@api_options
def watch(run_id: str | None, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Follow a run's events live until it ends (Ctrl+C stops watching, not the run).

    Without RUN_ID, follows the latest run.  A node that waits for a reason the API
    knows (no live worker offers its handler, its job was dead-lettered) gets a
    ``waiting:`` line.  Exit 0 when the run completed, 1 when it ended otherwise.
    """
    out = sys.stdout
    watched: list[str] = [run_id] if run_id else []

    async def go(c: DagqClient) -> WorkflowRun:
        if not watched:
            watched.append(await _latest(c))
        run_id = watched[0]
        start = await c.get_run(run_id)
        # Events replay from the run's start, so progress starts from all-pending.
        progress = Progress.pending(start)
        printer = EventPrinter(
            out, progress, live=out.isatty() and not as_json, quiet=as_json, err=sys.stderr
        )

        def on_event(event: RunEvent) -> None:
            if as_json:
                out.write(json.dumps(event.as_json(), ensure_ascii=False) + "\n")
                out.flush()
            printer.event(event)

        def on_waiting(node_id: str, note: str) -> None:
            if as_json:
                _explain(node_id, note)
            else:
                printer.note(waiting_line(node_id, note))

        final = await follow(c, run_id, on_event, printer.link, on_waiting)
        printer.finish(final)
        return final

    try:
        run = Remote(api_url, api_key, as_json).run("read runs", go)
    except KeyboardInterrupt:
        which = watched[0] if watched else "the run"
        click.echo(f"\nstopped watching {which}; the run goes on", err=True)
        raise SystemExit(Exit.INTERRUPTED) from None
    if not as_json:
        for line in _summary(run):
            click.echo(line)
    raise SystemExit(_outcome(run))


runs.add_command(logs)
