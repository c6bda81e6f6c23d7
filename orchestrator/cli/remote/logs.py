"""``dagq runs logs RUN_ID [NODE_ID] [--follow]``: what a run's handlers logged and printed.

Each attempt's lines come under a header naming the node, the attempt, its outcome and
its worker.  ``--follow`` keeps reading attempts as they end until the run has ended.
"""

from __future__ import annotations

import asyncio
import json

import click

from orchestrator.cli.exits import Exit
from orchestrator.cli.remote.common import Remote, api_options
from orchestrator.cli.remote.render import clock
from orchestrator.client import DagqClient
from orchestrator.vocab import TERMINAL_RUN
from orchestrator.wire.runs import AttemptLogView

FOLLOW_CHECK_S = 1.0
"""How often ``--follow`` asks for attempts that ended since."""


def attempt_lines(attempt: AttemptLogView) -> list[str]:
    """A header line and the attempt's lines, ``12:00:01.234  INFO     text``."""
    kind = " (compensation)" if attempt.kind == "compensation" else ""
    head = (
        f"── {attempt.nodeId}{kind}  attempt {attempt.attempt}  {attempt.outcome}"
        f"  on {attempt.worker}"
    )
    out = [head]
    if attempt.dropped:
        out.append(f"   (… {attempt.dropped} earlier lines not kept)")
    for line in attempt.lines:
        for i, text in enumerate(line.text.split("\n")):
            prefix = f"{clock(line.at)}  {line.level:<8} " if i == 0 else " " * 23
            out.append((prefix + text).rstrip())
    return out


async def _read_all(
    c: DagqClient, run_id: str, node_id: str | None, since: str | None
) -> tuple[list[AttemptLogView], str | None]:
    attempts: list[AttemptLogView] = []
    while True:
        page = await c.run_logs(run_id, node_id, since=since, limit=1000)
        attempts += page.attempts
        if page.lastId in (None, since):
            return attempts, since
        since = page.lastId


@click.command("logs")
@click.argument("run_id")
@click.argument("node_id", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep printing attempts as they end.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per attempt.")
@api_options
def logs(
    run_id: str,
    node_id: str | None,
    follow: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Show what a run's handlers (or NODE_ID's) logged and printed, attempt by attempt.

    Lines come from ``ctx.logger``, ``logging`` and ``print`` in the handler; each attempt
    keeps its last 1000 lines (256 KiB).
    """

    def show(attempts: list[AttemptLogView]) -> None:
        for attempt in attempts:
            if as_json:
                click.echo(json.dumps(attempt.as_json(), ensure_ascii=False))
            else:
                click.echo("\n".join(attempt_lines(attempt)))

    async def go(c: DagqClient) -> int:
        attempts, since = await _read_all(c, run_id, node_id, None)
        show(attempts)
        seen = len(attempts)
        while follow:
            run = await c.get_run(run_id)
            more, since = await _read_all(c, run_id, node_id, since)
            show(more)
            seen += len(more)
            if run.status in TERMINAL_RUN and not more:
                break
            await asyncio.sleep(FOLLOW_CHECK_S)
        return seen

    try:
        seen = Remote(api_url, api_key, as_json).run("read runs", go)
    except KeyboardInterrupt:
        raise SystemExit(Exit.INTERRUPTED) from None
    if not seen and not as_json:
        which = f"node {node_id} of run {run_id}" if node_id else f"run {run_id}"
        click.echo(f"no handler logs for {which} (yet)", err=True)
