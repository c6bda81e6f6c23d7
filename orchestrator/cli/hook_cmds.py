"""``dagq hooks add | ls | rm | rotate | notify-secret``: webhooks that start runs, and the
key signing outgoing notifications, over the API."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.render import echo_json, echo_table, shorten


def _pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, expression = pair.partition("=")
        if not sep or not name.strip() or not expression.strip():
            raise click.BadParameter(f"{pair!r} is not PARAM=EXPRESSION", param_hint="--map")
        mapping[name.strip()] = expression.strip()
    return mapping


def _print_secret(hook: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json({"id": hook["id"], "url": hook["url"], "secret": hook["secret"]})
        return
    click.echo(f"hook {hook['id']} starts {hook['workflowId']}")
    click.echo(f"url:    {hook['url']}")
    click.echo(f"secret: {hook['secret']}")
    click.echo("Keep the secret now: it is not shown again (`dagq hooks rotate` makes a new one).")


@click.group()
def hooks() -> None:
    """Webhooks: a POST signed with the hook's secret starts a run."""


@hooks.command()
@click.argument("workflow_id")
@click.option(
    "--map", "pairs", multiple=True, metavar="PARAM=EXPRESSION",
    help="A run parameter from the posted JSON, which expressions read as `output` "
    "(e.g. region=output.repo.owner). Without --map the body's fields are the parameters.",
)  # fmt: skip
@click.option("--version", type=click.IntRange(1), default=None, help="Pin a version.")
@click.option("--description", default="", help="What the hook is for.")
@json_option
@api_options
def add(
    workflow_id: str,
    pairs: tuple[str, ...],
    version: int | None,
    description: str,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Create a webhook starting WORKFLOW_ID; prints its URL and secret (once)."""
    mapping = _pairs(pairs)
    hook = Remote(api_url, api_key, as_json).run(
        "write hooks",
        lambda c: c.create_hook(workflow_id, mapping, version=version, description=description),
    )
    _print_secret(hook.as_json(), as_json)


@hooks.command("ls")
@json_option
@api_options
def ls(as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """List webhooks (never their secrets)."""
    rows = Remote(api_url, api_key, as_json).run("read hooks", lambda c: c.list_hooks())
    if as_json:
        echo_json({"hooks": rows})
        return
    echo_table(
        ("id", "workflow", "url", "map"),
        [(h.id, h.workflowId, h.url, shorten(h.map or "", 40)) for h in rows],
        "no hooks",
    )


@hooks.command()
@click.argument("hook_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
@api_options
def rm(hook_id: str, yes: bool, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Delete a webhook: deliveries to it are refused from now on."""
    if not yes and not as_json:
        if not sys.stdin.isatty():
            raise click.UsageError("not a terminal: pass --yes to delete without a prompt")
        click.confirm(f"Delete hook {hook_id!r}?", abort=True)
    Remote(api_url, api_key, as_json).run("write hooks", lambda c: c.delete_hook(hook_id))
    if as_json:
        echo_json({"id": hook_id, "deleted": True})
    else:
        click.echo(f"deleted {hook_id}")


@hooks.command()
@click.argument("hook_id")
@json_option
@api_options
def rotate(hook_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Give a webhook a new secret (the old one stops working at once)."""
    hook = Remote(api_url, api_key, as_json).run("write hooks", lambda c: c.rotate_hook(hook_id))
    _print_secret(hook.as_json(), as_json)


@hooks.command("notify-secret")
@json_option
@api_options
def notify_secret(as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Print the key signing workflow notifications (``notify:``): receivers check
    ``X-Dagq-Signature: sha256=HMAC-SHA256(key, X-Dagq-Timestamp + "." + body)``."""
    answer = Remote(api_url, api_key, as_json).run(
        "read the notify secret", lambda c: c.notify_secret()
    )
    if as_json:
        echo_json(answer)
    else:
        click.echo(answer.secret)
