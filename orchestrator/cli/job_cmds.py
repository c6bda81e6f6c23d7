"""``dagq jobs enqueue | chain | get | ls | cancel``: plain jobs and chains over the API."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import click
import yaml

from orchestrator.cli.exits import Exit
from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.render import echo_json, echo_table, shorten, when
from orchestrator.cli.remote.watch import follow, waiting_line
from orchestrator.client import DagqClient
from orchestrator.durations import DurationError, parse_duration
from orchestrator.vocab import RunStatus
from orchestrator.wire.triggers import Job


def _payload(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    if text == "-":
        text = sys.stdin.read()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--payload") from None
    if not isinstance(value, dict):
        raise click.BadParameter(
            'must be a JSON object, e.g. \'{"to": "ada@example.com"}\'', param_hint="--payload"
        )
    return value


def _seconds(value: str | None, hint: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _print_job(job: Mapping[str, Any]) -> None:
    handlers = " → ".join(job.get("handlers") or [])
    click.echo(f"{job['kind']} {job['id']}  {handlers}  {job['status']}")
    click.echo(f"created {when(job.get('createdAt'))}  priority {job.get('priority')}")
    if job.get("runAt"):
        click.echo(f"runs at {when(job['runAt'])}")
    click.echo(f"payload: {shorten(json.dumps(job.get('payload') or {}), 200)}")
    if job.get("result") is not None:
        click.echo(f"result: {shorten(json.dumps(job['result']), 200)}")
    if job.get("error"):
        click.echo(f"error: {shorten(job['error'], 200)}")
    rows = [
        (s["handler"], s["status"], s.get("attempts", 0),
         shorten(s.get("waitingFor") or s.get("lastError") or "", 60))
        for s in job.get("steps") or []
    ]  # fmt: skip
    echo_table(("handler", "status", "attempts", "note"), rows, "no steps")


def _options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--payload", metavar="JSON", help="A JSON object ('-': stdin)."),
            click.option("--priority", type=click.IntRange(0, 10), help="0 (low) to 10 (high)."),
            click.option("--retries", type=click.IntRange(0, 100), help="Retries per handler."),
            click.option("--timeout", "timeout_text", metavar="DURATION",
                         help="Timeout of each attempt (30s, 5m)."),
            click.option("--delay", "delay_text", metavar="DURATION",
                         help="Wait this long first (30s, 5m)."),
            click.option("--at", "run_at", metavar="TIME",
                         help="Run at this ISO 8601 time (with a zone)."),
            click.option("--wait", is_flag=True,
                         help="Wait for the end and print the result; exit 1 unless it completed."),
            json_option,
            api_options,
        ]
    ):  # fmt: skip
        func = option(func)
    return func


def _enqueue(
    handlers: list[str],
    payload_text: str | None,
    options: dict[str, Any],
) -> None:
    payload = _payload(payload_text)
    timeout_s = _seconds(options["timeout_text"], "--timeout")
    delay_s = _seconds(options["delay_text"], "--delay")
    as_json, wait = options["as_json"], options["wait"]
    kwargs = {
        "priority": options["priority"],
        "retries": options["retries"],
        "attempt_timeout": timeout_s,
        "delay": delay_s,
        "run_at": options["run_at"],
    }

    def explain(node_id: str, note: str) -> None:
        click.echo(waiting_line(node_id, note), err=True)

    async def go(c: DagqClient) -> Job:
        if len(handlers) == 1:
            job = await c.enqueue(handlers[0], payload, **kwargs)
        else:
            job = await c.chain(handlers, payload, **kwargs)
        if not wait:
            return job
        await follow(c, job.id, lambda _event: None, on_waiting=explain)
        return await c.get_job(job.id)

    job = Remote(options["api_url"], options["api_key"], as_json).run("enqueue jobs", go)
    if as_json:
        echo_json(job)
    elif wait:
        _print_job(job.as_json())
    else:
        click.echo(job.id)
    if wait:
        raise SystemExit(Exit.OK if job.status == RunStatus.COMPLETED else Exit.FAILED)


@click.group()
def jobs() -> None:
    """Plain jobs and chains: a handler (or handlers in order) and a payload, on the same
    queues, workers, retries and dead letters as workflows."""


@jobs.command()
@click.argument("handler")
@_options
def enqueue(handler: str, payload: str | None, **options: Any) -> None:
    """Enqueue a job: HANDLER gets the payload as its input; prints the job id."""
    _enqueue([handler], payload, options)


@jobs.command()
@click.argument("handlers", nargs=-1, required=True)
@_options
def chain(handlers: tuple[str, ...], payload: str | None, **options: Any) -> None:
    """Enqueue a chain: HANDLERS run in order, each getting the previous one's output."""
    _enqueue(list(handlers), payload, options)


@jobs.command()
@click.argument("job_id")
@json_option
@api_options
def get(job_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Show a job: status, payload, result, and each handler's step."""
    job = Remote(api_url, api_key, as_json).run("read jobs", lambda c: c.get_job(job_id))
    if as_json:
        echo_json(job)
    else:
        _print_job(job.as_json())


@jobs.command("ls")
@click.option("--status", type=click.Choice([s.value for s in RunStatus]), default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@json_option
@api_options
def ls(
    status: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """List jobs and chains, newest first."""
    page = Remote(api_url, api_key, as_json).run(
        "read jobs", lambda c: c.list_jobs(status=status, limit=limit, offset=offset)
    )
    if as_json:
        echo_json(page)
        return
    rows = [
        (j.id, j.kind, shorten(" → ".join(j.handlers), 50), j.status,
         when(j.createdAt), shorten(j.error or "", 40))
        for j in page.jobs
    ]  # fmt: skip
    echo_table(("id", "kind", "handlers", "status", "created", "error"), rows, "no jobs")
    if page.hasMore:
        click.echo(f"{page.total} in all; --offset {offset + limit} for more")


@jobs.command()
@click.argument("job_id")
@json_option
@api_options
def cancel(job_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Cancel a job that has not ended."""
    Remote(api_url, api_key, as_json).run("cancel jobs", lambda c: c.cancel_job(job_id))
    if as_json:
        echo_json({"id": job_id, "status": RunStatus.CANCELLED})
    else:
        click.echo(f"job {job_id} cancelled")


@jobs.command()
@click.argument("job_id")
@click.option("--id", "workflow_id", required=True, help="The new workflow's id.")
@click.option("--name", default=None, help="The new workflow's name.")
@click.option("--save", is_flag=True, help="Store it (else print it as YAML to edit and push).")
@json_option
@api_options
def promote(
    job_id: str,
    workflow_id: str,
    name: str | None,
    save: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Turn a job or chain into a workflow you can extend (the same payload still works)."""

    async def go(c: DagqClient) -> dict[str, Any]:
        workflow = await c.promote_job(job_id, workflow_id, name=name)
        return (await c.create_workflow(workflow)).as_json() if save else workflow

    workflow = Remote(api_url, api_key, as_json).run(
        "create workflows" if save else "read jobs", go
    )
    if as_json:
        echo_json(workflow)
    elif save:
        click.echo(f"{workflow['id']} version {workflow['version']} (promoted from {job_id})")
    else:
        click.echo(yaml.safe_dump(workflow, sort_keys=False, allow_unicode=True), nl=False)
