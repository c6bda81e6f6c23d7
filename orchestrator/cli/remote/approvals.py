"""``dagq runs approve | reject | signal`` and ``dagq approvals ls``: people and events.

A refusal (the step timed out, the run ended, the caller is not an approver, a signal
no step waits for) ends the command with exit 3 and the reason.
"""

from __future__ import annotations

import json
from typing import Any

import click

from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.render import echo_json, table
from orchestrator.client import DagqClient
from orchestrator.errors import Conflict, Forbidden, NotFound
from orchestrator.vocab import NodeStatus
from orchestrator.wire.ops import Decided, SignalSent, WaitingApprovalView

REFUSALS = (Conflict, Forbidden, NotFound)


def _decide(
    run_id: str, node_id: str, approve: bool, comment: str, as_json: bool,
    api_url: str | None, api_key: str | None,
) -> None:  # fmt: skip
    async def go(c: DagqClient) -> Decided:
        return await c.decide(run_id, node_id, approve=approve, comment=comment)

    remote = Remote(api_url, api_key, as_json)
    node = remote.run("decide approvals", go, refusals=REFUSALS)
    if as_json:
        echo_json(node)
        return
    word = "approved" if approve else "rejected"
    approval = node.approval
    if node.status == NodeStatus.WAITING and approval is not None:
        click.echo(
            f"{word} {node_id} of {run_id}: {approval.approvals} of "
            f"{approval.required} approvals, still waiting"
        )
    else:
        outcome = "approved" if (node.output or {}).get("approved") else "rejected"
        click.echo(f"{word} {node_id} of {run_id}: the step is {outcome}")


@click.command()
@click.argument("run_id")
@click.argument("node_id")
@click.option("-m", "--message", "comment", default="", help="Why (kept with the decision).")
@json_option
@api_options
def approve(
    run_id: str, node_id: str, comment: str, as_json: bool, api_url: str | None,
    api_key: str | None,
) -> None:  # fmt: skip
    """Approve the waiting approval NODE_ID of RUN_ID."""
    _decide(run_id, node_id, True, comment, as_json, api_url, api_key)


@click.command()
@click.argument("run_id")
@click.argument("node_id")
@click.option("-m", "--message", "comment", required=True, help="Why (kept with the decision).")
@json_option
@api_options
def reject(
    run_id: str, node_id: str, comment: str, as_json: bool, api_url: str | None,
    api_key: str | None,
) -> None:  # fmt: skip
    """Reject the waiting approval NODE_ID of RUN_ID (a comment is required)."""
    _decide(run_id, node_id, False, comment, as_json, api_url, api_key)


def _payload(data: str | None) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from None
    if not isinstance(value, dict):
        raise click.BadParameter("the payload must be a JSON object", param_hint="--data")
    return value


@click.command()
@click.argument("run_id")
@click.argument("name")
@click.option("--data", default=None, metavar="JSON", help="The payload, a JSON object.")
@json_option
@api_options
def signal(
    run_id: str, name: str, data: str | None, as_json: bool, api_url: str | None,
    api_key: str | None,
) -> None:  # fmt: skip
    """Send the signal NAME (with a JSON payload) to RUN_ID."""
    payload = _payload(data)

    async def go(c: DagqClient) -> SignalSent:
        return await c.send_signal(run_id, name, payload)

    answer = Remote(api_url, api_key, as_json).run("send signals", go, refusals=REFUSALS)
    if as_json:
        echo_json(answer)
    elif answer.delivered:
        click.echo(f"signal {name} delivered to {answer.delivered} of {run_id}")
    else:
        click.echo(f"signal {name} kept by {run_id} until a step waits for it")


@click.group()
def approvals() -> None:
    """Approvals waiting for a decision."""


@approvals.command("ls")
@click.option("--all", "everyone", is_flag=True, help="Every waiting approval, not only yours.")
@json_option
@api_options
def ls(everyone: bool, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Approvals waiting for you (oldest first)."""

    async def go(c: DagqClient) -> list[WaitingApprovalView]:
        return await c.approvals(everyone=everyone)

    rows = Remote(api_url, api_key, as_json).run("list approvals", go)
    if as_json:
        echo_json({"approvals": rows, "total": len(rows)})
        return
    if not rows:
        click.echo("no approval is waiting for you" if not everyone else "no approval is waiting")
        return
    click.echo(
        table(
            ["RUN", "NODE", "WORKFLOW", "APPROVALS", "REQUESTED", "DUE", "MESSAGE"],
            [
                [
                    r.runId, r.nodeId, r.workflowId,
                    f"{r.approvals}/{r.required}", r.requestedTime or "",
                    r.dueTime or "-", " ".join(r.message.split())[:60],
                ]
                for r in rows
            ],
        )
    )  # fmt: skip
