"""``dagq workflows ls | get | push | rm | versions | validate`` over the HTTP API."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orchestrator.cli.exits import Exit, fail
from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.render import echo_json, echo_table, issue_lines, when
from orchestrator.client import DagqClient
from orchestrator.errors import DagqError, NotFound
from orchestrator.spec.export import dump_spec, spec_to_data
from orchestrator.spec.loader import load_file_schedules
from orchestrator.spec.model import WorkflowSpec
from orchestrator.spec.schedule import ScheduleSpec
from orchestrator.wire.runs import WorkflowRecord

_SPEC_FIELDS = frozenset(WorkflowSpec.model_fields)


def spec_of(workflow: WorkflowRecord) -> WorkflowSpec:
    """The spec inside the API's ``Workflow`` (its record fields left out)."""
    data = workflow.as_json()
    return WorkflowSpec.model_validate({k: v for k, v in data.items() if k in _SPEC_FIELDS})


def same_spec(a: WorkflowSpec, b: WorkflowSpec) -> bool:
    """Equal apart from ``version`` (which the store assigns): pushing it again changes nothing."""
    return a.model_dump(mode="json", exclude={"version"}) == b.model_dump(
        mode="json", exclude={"version"}
    )


@click.group()
def workflows() -> None:
    """Workflow definitions stored behind the API: list, fetch, push, delete."""


@workflows.command("ls")
@click.option("--name", default=None, help="Only workflows whose name or id contains this.")
@click.option("--tag", "tags", multiple=True, help="Only workflows with this tag (repeatable).")
@click.option("--status", type=click.Choice(["draft", "published", "deprecated"]), default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@json_option
@api_options
def ls(
    name: str | None,
    tags: tuple[str, ...],
    status: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """List workflows, most recently updated first."""
    page = Remote(api_url, api_key, as_json).run(
        "list workflows",
        lambda c: c.list_workflows(name=name, tags=tags, status=status, limit=limit, offset=offset),
    )
    if as_json:
        echo_json({"workflows": page.items, "total": page.total, "hasMore": page.has_more})
        return
    rows = [
        (
            w.id,
            w.name,
            w.version,
            w.status,
            w.nodeCount,
            ",".join(w.tags),
            when(w.updatedAt),
        )
        for w in page.items
    ]
    echo_table(
        ("id", "name", "version", "status", "nodes", "tags", "updated"), rows, "no workflows"
    )
    if page.has_more:
        click.echo(f"({offset + 1}-{offset + len(rows)} of {page.total}; more with --offset)")


@workflows.command()
@click.argument("workflow_id")
@click.option(
    "--version", type=click.IntRange(1), default=None, help="This version, not the current."
)
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
@api_options
def get(
    workflow_id: str, version: int | None, fmt: str, api_url: str | None, api_key: str | None
) -> None:
    """Print a workflow's spec (save it, edit it, and `push` it back)."""

    async def fetch(c: DagqClient) -> WorkflowSpec:
        if version is None:
            return spec_of(await c.get_workflow(workflow_id))
        return WorkflowSpec.model_validate((await c.get_version(workflow_id, version)).spec)

    spec = Remote(api_url, api_key).run("read workflows", fetch)
    click.echo(dump_spec(spec, "json" if fmt == "json" else "yaml"), nl=False)


@workflows.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--message", "-m", default=None, help="Change log of the new version.")
@json_option
@api_options
def push(
    file: Path, message: str | None, as_json: bool, api_url: str | None, api_key: str | None
) -> None:
    """Store FILE: create the workflow, or add a version when it exists and differs.

    Prints the workflow id and its version; an invalid spec lists the validator's errors
    (exit 1).  Pushing an unchanged spec stores nothing.
    """
    try:
        spec, schedules = load_file_schedules(file)
    except DagqError as exc:
        fail(exc, action="push workflows", as_json=as_json)

    async def store(c: DagqClient) -> tuple[WorkflowRecord, str]:
        data = spec_to_data(spec)
        try:
            current = await c.get_workflow(spec.id)
        except NotFound:
            return await c.create_workflow(data), "created"
        if same_spec(spec_of(current), spec):
            return current, "unchanged"
        # expected_version: a push that raced another one is refused, not silently stacked.
        updated = await c.update_workflow(
            spec.id, data, change_log=message, expected_version=current.version
        )
        return updated, "updated"

    async def push_all(c: DagqClient) -> tuple[WorkflowRecord, str, list[str]]:
        record, outcome = await store(c)
        return record, outcome, await apply_schedules(c, schedules)

    record, outcome, applied = Remote(api_url, api_key, as_json).run("push workflows", push_all)
    if as_json:
        answer = {"id": record.id, "version": record.version, "outcome": outcome}
        echo_json({**answer, "schedules": applied} if schedules else answer)
    else:
        click.echo(f"{record.id} version {record.version} ({outcome})")
        for schedule_id in applied:
            click.echo(f"schedule {schedule_id} applied")


async def apply_schedules(c: DagqClient, schedules: list[ScheduleSpec]) -> list[str]:
    """Create or replace each of a workflow file's schedules; their ids."""
    for schedule in schedules:
        body = schedule.to_api()
        try:
            await c.get_schedule(schedule.id)
        except NotFound:
            await c.create_schedule(body)
            continue
        await c.update_schedule(schedule.id, body)
    return [s.id for s in schedules]


@workflows.command()
@click.argument("workflow_id")
@click.option(
    "--force",
    is_flag=True,
    help="Also cancel the workflow's active runs and remove its schedules and webhooks.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@api_options
def rm(workflow_id: str, force: bool, yes: bool, api_url: str | None, api_key: str | None) -> None:
    """Delete a workflow and all its versions.

    Refused (listing them) while it has active runs, schedules or webhooks, unless --force.
    """
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not a terminal: pass --yes to delete without a prompt")
        what = ", cancel its active runs and remove its schedules and webhooks" if force else ""
        click.confirm(f"Delete workflow {workflow_id!r} with all its versions{what}?", abort=True)
    Remote(api_url, api_key).run(
        "delete workflows", lambda c: c.delete_workflow(workflow_id, force=force)
    )
    click.echo(f"deleted {workflow_id}")


@workflows.command()
@click.argument("workflow_id")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@json_option
@api_options
def versions(
    workflow_id: str, limit: int, as_json: bool, api_url: str | None, api_key: str | None
) -> None:
    """List a workflow's versions, newest first."""
    rows = Remote(api_url, api_key, as_json).run(
        "read workflows", lambda c: c.list_versions(workflow_id, limit=limit)
    )
    if as_json:
        echo_json({"versions": rows})
        return
    echo_table(
        ("version", "created", "by", "nodes", "change log"),
        [
            (
                v.version,
                when(v.createdAt),
                v.createdBy or "",
                len(v.spec.get("nodes", [])),
                v.changeLog,
            )
            for v in rows
        ],
        "no versions",
    )


@workflows.command()
@click.argument("workflow_id")
@json_option
@api_options
def validate(workflow_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Validate the stored workflow with the server's validator (exit 1 when invalid)."""
    verdict = Remote(api_url, api_key, as_json).run(
        "validate workflows", lambda c: c.validate_workflow(workflow_id)
    )
    if as_json:
        echo_json(verdict)
    else:
        errors = [e.as_json() for e in verdict.errors]
        warnings = [w.as_json() for w in verdict.warnings]
        head = "✓" if verdict.valid else "✗"
        state = "valid" if verdict.valid else f"invalid ({len(errors)} error(s))"
        click.echo(f"{head} {workflow_id}: {state}")
        for line in issue_lines(errors, warnings):
            click.echo(line)
    if not verdict.valid:
        raise SystemExit(Exit.FAILED)
