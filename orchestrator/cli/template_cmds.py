"""``dagq templates ls | show | use | push | rm | versions | diff`` over the API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import yaml

from orchestrator.cli.exits import fail
from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.render import echo_json, echo_table, shorten, when
from orchestrator.cli.remote.runs import parse_params
from orchestrator.client import DagqClient
from orchestrator.errors import BadRequest, DagqError, NotFound
from orchestrator.spec.loader import parse_document, read_document


@click.group()
def templates() -> None:
    """Reusable, versioned workflow templates: the shipped gallery and your own."""


@templates.command("ls")
@json_option
@api_options
def ls(as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """List templates, most recently changed first."""
    rows = Remote(api_url, api_key, as_json).run("read templates", lambda c: c.list_templates())
    if as_json:
        echo_json({"templates": rows})
        return
    echo_table(
        ("id", "version", "name", "parameters"),
        [
            (t.id, t.version, shorten(t.name, 40), shorten(", ".join(t.parameters), 60))
            for t in rows
        ],
        "no templates",
    )


def _default(value: Any) -> str:
    return "(required)" if value is None else shorten(json.dumps(value), 30)


@templates.command()
@click.argument("template_id")
@click.option("--version", type=click.IntRange(1), default=None, help="This version.")
@click.option("--yaml", "as_yaml", is_flag=True, help="Print the template as YAML (to edit).")
@json_option
@api_options
def show(
    template_id: str,
    version: int | None,
    as_yaml: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Show a template: its parameters, and the workflow it makes."""
    record = Remote(api_url, api_key, as_json).run(
        "read templates", lambda c: c.get_template(template_id, version)
    )
    template: Mapping[str, Any] = record.template or {}
    if as_json:
        echo_json(record)
        return
    if as_yaml:
        click.echo(yaml.safe_dump(dict(template), sort_keys=False, allow_unicode=True), nl=False)
        return
    click.echo(f"template {template['id']} v{record.version}  {template['name']}")
    if template.get("description"):
        click.echo(shorten(template["description"], 300))
    click.echo(f"made {when(record.createdAt)} by {record.createdBy or '?'}")
    rows = [
        (name, p.get("type", "string"), _default(p.get("default")),
         shorten(p.get("description") or "", 60))
        for name, p in (template.get("parameters") or {}).items()
    ]  # fmt: skip
    echo_table(("parameter", "type", "default", "description"), rows, "no parameters")
    workflow = template.get("workflow") or {}
    nodes = workflow.get("nodes") or []
    click.echo(f"workflow: {len(nodes)} nodes, {len(workflow.get('edges') or [])} edges")


@templates.command()
@click.argument("template_id")
@click.option("--id", "workflow_id", required=True, help="The new workflow's id.")
@click.option(
    "--set", "pairs", multiple=True, metavar="NAME=VALUE", help="A parameter's value (repeatable)."
)
@click.option("--values", "values_json", metavar="JSON", help="Values as a JSON object.")
@click.option("--name", default=None, help="The new workflow's name.")
@click.option("--version", type=click.IntRange(1), default=None, help="Template version.")
@click.option("--dry-run", is_flag=True, help="Print the workflow (YAML) without storing it.")
@json_option
@api_options
def use(
    template_id: str,
    workflow_id: str,
    pairs: tuple[str, ...],
    values_json: str | None,
    name: str | None,
    version: int | None,
    dry_run: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Make a workflow from TEMPLATE_ID (and its schedules, if it has some)."""
    values = parse_params(values_json, pairs)
    made = Remote(api_url, api_key, as_json).run(
        "create workflows",
        lambda c: c.use_template(
            template_id, workflow_id, values, name=name, version=version, save=not dry_run
        ),
    )
    if as_json:
        echo_json(made)
        return
    if dry_run:
        click.echo(yaml.safe_dump(made.workflow, sort_keys=False, allow_unicode=True), nl=False)
        return
    tpl = made.template
    click.echo(
        f"{made.workflow['id']} version {made.workflow['version']} "
        f"(created from template {tpl['id']} v{tpl['version']})"
    )
    for schedule in made.schedules:
        click.echo(f"schedule {schedule['id']} created")


def _load(file: Path) -> dict[str, Any]:
    try:
        data = parse_document(read_document(file), str(file))
    except DagqError as exc:
        fail(exc, action="push templates")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        fail(BadRequest(f"{file}: a template is a mapping with an id, a name and a workflow"))
    return data


@templates.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--message", "-m", default=None, help="Change log of the new version.")
@json_option
@api_options
def push(
    file: Path, message: str | None, as_json: bool, api_url: str | None, api_key: str | None
) -> None:
    """Store FILE: create the template, or add a version when it exists and differs."""
    data = _load(file)

    async def store(c: DagqClient) -> dict[str, Any]:
        try:
            current = await c.get_template(data["id"])
        except NotFound:
            return {**(await c.create_template(data)).as_json(), "outcome": "created"}
        # expected_version: a push that raced another one is refused, not silently stacked.
        updated = await c.update_template(
            data["id"], data, change_log=message, expected_version=current.version
        )
        return updated.as_json()

    record = Remote(api_url, api_key, as_json).run("write templates", store)
    if as_json:
        echo_json({"id": data["id"], "version": record["version"], "outcome": record["outcome"]})
    else:
        click.echo(f"{data['id']} version {record['version']} ({record['outcome']})")


@templates.command()
@click.argument("template_id")
@json_option
@api_options
def rm(template_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Delete a template and its versions (workflows made from it stay)."""
    Remote(api_url, api_key, as_json).run(
        "write templates", lambda c: c.delete_template(template_id)
    )
    if as_json:
        echo_json({"id": template_id, "deleted": True})
    else:
        click.echo(f"template {template_id} deleted")


@templates.command()
@click.argument("template_id")
@json_option
@api_options
def versions(template_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """List a template's versions, newest first."""
    rows = Remote(api_url, api_key, as_json).run(
        "read templates", lambda c: c.template_versions(template_id)
    )
    if as_json:
        echo_json({"versions": rows})
        return
    table = [
        (v.version, when(v.createdAt), v.createdBy or "", shorten(v.changeLog or "", 50))
        for v in rows
    ]  # fmt: skip
    echo_table(("version", "made", "by", "change"), table, "no versions")


@templates.command()
@click.argument("template_id")
@click.argument("old", type=click.IntRange(1))
@click.argument("new", type=click.IntRange(1))
@json_option
@api_options
def diff(
    template_id: str, old: int, new: int, as_json: bool, api_url: str | None, api_key: str | None
) -> None:
    """Compare versions OLD and NEW of a template."""
    answer = Remote(api_url, api_key, as_json).run(
        "read templates", lambda c: c.diff_templates(template_id, old, new)
    )
    if as_json:
        echo_json(answer)
        return
    params = answer.parameters
    lines = [f"{template_id}: v{old} -> v{new}"]
    lines += [f"  + parameter {n}" for n in params["added"]]
    lines += [f"  - parameter {n}" for n in params["removed"]]
    lines += [f"  ~ parameter {n}" for n in params["changed"]]
    lines += [f"  ~ {f}" for f in answer.fields]
    mark = {"added": "+", "removed": "-", "changed": "~"}
    lines += [f"  {mark[kind]} node {node}" for node, kind in answer.nodes.items()]
    if len(lines) == 1:
        lines.append("  no differences")
    click.echo("\n".join(lines))
