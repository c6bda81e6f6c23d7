"""``dagq schedules ls | get | add | rm | pause | resume | trigger | backfill`` over the API."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click

from orchestrator.cli.remote.common import Remote, api_options, json_option
from orchestrator.cli.remote.render import echo_json, echo_table, shorten, when
from orchestrator.cli.remote.runs import parse_params
from orchestrator.client import DagqClient
from orchestrator.spec.schedule import CATCHUPS, OVERLAPS, BackfillState
from orchestrator.wire.triggers import BackfillView, ScheduleView


def _when_kind(s: Mapping[str, Any]) -> str:
    if s.get("cron"):
        return f"cron {s['cron']} {s.get('timezone', 'UTC')}"
    return f"every {s.get('every')}s"


def _last(s: Mapping[str, Any]) -> str:
    last = s.get("lastOutcome")
    if not last:
        return ""
    text = str(last["status"])
    if last.get("runId"):
        text += f" {last['runId']}"
        if last.get("runStatus"):
            text += f" ({last['runStatus']})"
    return text


def _print_schedule(s: Mapping[str, Any]) -> None:
    state = "paused" if s.get("paused") else ("ended" if s.get("ended") else "active")
    click.echo(f"schedule {s['id']}  workflow {s['workflowId']}  {_when_kind(s)}  {state}")
    if s.get("note"):
        click.echo(f"note: {shorten(s['note'], 200)}")
    click.echo(
        f"catchup {s.get('catchup')} (window {s.get('catchupWindow')}s)  "
        f"overlap {s.get('overlap')}  version {s.get('version') or 'newest'}"
    )
    if s.get("params"):
        click.echo(f"params: {shorten(s['params'], 200)}")
    click.echo("next fires: " + (", ".join(s.get("nextFires") or []) or "none"))
    rows = [
        (o["fire"], o["status"], o.get("runId") or "", o.get("runStatus") or "",
         shorten(o.get("reason") or o.get("error") or o.get("count") or "", 50))
        for o in s.get("outcomes") or []
    ]  # fmt: skip
    echo_table(("fire", "outcome", "run", "run status", "note"), rows, "no outcomes yet")


@click.group()
def schedules() -> None:
    """Schedules that start runs: cron with a time zone, or every N seconds."""


@schedules.command("ls")
@click.option("--workflow", "workflow_id", default=None, help="Only this workflow's schedules.")
@json_option
@api_options
def ls(workflow_id: str | None, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """List schedules with their next fire and last outcome."""
    rows = Remote(api_url, api_key, as_json).run(
        "read schedules", lambda c: c.list_schedules(workflow_id)
    )
    if as_json:
        echo_json({"schedules": rows})
        return
    echo_table(
        ("id", "workflow", "when", "paused", "next fire", "last outcome"),
        [
            (s["id"], s["workflowId"], _when_kind(s), "yes" if s["paused"] else "",
             when(s.get("nextFireTime")), _last(s))
            for s in (r.as_json() for r in rows)
        ],
        "no schedules",
    )  # fmt: skip


@schedules.command()
@click.argument("schedule_id")
@json_option
@api_options
def get(schedule_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """A schedule: its next 5 fires and last 20 outcomes."""
    view = Remote(api_url, api_key, as_json).run(
        "read schedules", lambda c: c.get_schedule(schedule_id)
    )
    if as_json:
        echo_json(view)
    else:
        _print_schedule(view.as_json())


@schedules.command()
@click.argument("schedule_id")
@click.argument("workflow_id")
@click.option("--cron", default=None, help='Five fields, e.g. "0 2 * * *".')
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone of --cron.")
@click.option("--every", default=None, help="A fixed interval instead: 1s, 5m, 1h...")
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE", help="Repeatable.")
@click.option("--params", "params_json", metavar="JSON", help="Parameters as a JSON object.")
@click.option("--version", type=click.IntRange(1), default=None, help="Pin a version.")
@click.option("--catchup", type=click.Choice(CATCHUPS), default="latest", show_default=True)
@click.option("--catchup-window", default="1h", show_default=True)
@click.option("--overlap", type=click.Choice(OVERLAPS), default="skip", show_default=True)
@click.option("--jitter", default=None, help="Delay each fire by up to this much.")
@click.option("--start-at", default=None, help="First possible fire (ISO 8601 with zone).")
@click.option("--end-at", default=None, help="Last possible fire (ISO 8601 with zone).")
@click.option("--replace", is_flag=True, help="Replace the schedule if it exists.")
@json_option
@api_options
def add(
    schedule_id: str,
    workflow_id: str,
    cron: str | None,
    timezone: str,
    every: str | None,
    pairs: tuple[str, ...],
    params_json: str | None,
    version: int | None,
    catchup: str,
    catchup_window: str,
    overlap: str,
    jitter: str | None,
    start_at: str | None,
    end_at: str | None,
    replace: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Create schedule SCHEDULE_ID starting runs of WORKFLOW_ID (--cron or --every)."""
    if (cron is None) == (every is None):
        raise click.UsageError("give exactly one of --cron EXPR or --every DURATION")
    spec: dict[str, Any] = {
        "id": schedule_id,
        "workflowId": workflow_id,
        "params": parse_params(params_json, pairs),
        "catchup": catchup,
        "catchupWindow": catchup_window,
        "overlap": overlap,
    }
    optional = {"cron": cron, "every": every, "version": version, "jitter": jitter,
                "startAt": start_at, "endAt": end_at}  # fmt: skip
    spec.update({k: v for k, v in optional.items() if v is not None})
    if cron is not None:
        spec["timezone"] = timezone

    async def go(c: DagqClient) -> ScheduleView:
        if replace:
            return await c.update_schedule(schedule_id, spec)
        return await c.create_schedule(spec)

    view = Remote(api_url, api_key, as_json).run("write schedules", go)
    if as_json:
        echo_json(view)
    else:
        click.echo(f"{view.id}: next fire {view.nextFireTime or 'none'}")


@schedules.command()
@click.argument("schedule_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
@api_options
def rm(
    schedule_id: str, yes: bool, as_json: bool, api_url: str | None, api_key: str | None
) -> None:
    """Delete a schedule (the runs it started stay)."""
    if not yes and not as_json:
        if not sys.stdin.isatty():
            raise click.UsageError("not a terminal: pass --yes to delete without a prompt")
        click.confirm(f"Delete schedule {schedule_id!r}?", abort=True)
    Remote(api_url, api_key, as_json).run(
        "write schedules", lambda c: c.delete_schedule(schedule_id)
    )
    if as_json:
        echo_json({"id": schedule_id, "deleted": True})
    else:
        click.echo(f"deleted {schedule_id}")


def _state_command(name: str, doc: str, action: str) -> None:
    @schedules.command(name, help=doc)
    @click.argument("schedule_id")
    @click.option("--note", default="", help="Why (shown with the schedule).")
    @json_option
    @api_options
    def command(
        schedule_id: str, note: str, as_json: bool, api_url: str | None, api_key: str | None
    ) -> None:
        async def go(c: DagqClient) -> ScheduleView:
            if name == "pause":
                return await c.pause_schedule(schedule_id, note)
            return await c.resume_schedule(schedule_id, note)

        view = Remote(api_url, api_key, as_json).run(action, go)
        if as_json:
            echo_json(view)
        else:
            click.echo(f"{schedule_id}: {name}d; next fire {view.nextFireTime or 'none'}")


_state_command("pause", "Hold a schedule's fires (not caught up on resume).", "write schedules")
_state_command("resume", "Fire again from the next fire time.", "write schedules")


@schedules.command()
@click.argument("schedule_id")
@json_option
@api_options
def trigger(schedule_id: str, as_json: bool, api_url: str | None, api_key: str | None) -> None:
    """Start a run of the schedule now and print its id."""
    view = Remote(api_url, api_key, as_json).run(
        "trigger schedules", lambda c: c.trigger_schedule(schedule_id)
    )
    outcome = view.outcomes[0] if view.outcomes else None
    if as_json:
        echo_json(outcome or {})
    else:
        click.echo(outcome.runId or "" if outcome else "")


def _iso(value: str, option: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


@schedules.command()
@click.argument("schedule_id")
@click.option("--from", "start", required=True, help="First fire time (ISO 8601; UTC if bare).")
@click.option("--to", "end", required=True, help="Last fire time (ISO 8601; UTC if bare).")
@click.option("--max-parallel", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--wait", is_flag=True, help="Wait until every run of the range has ended.")
@json_option
@api_options
def backfill(
    schedule_id: str,
    start: str,
    end: str,
    max_parallel: int,
    wait: bool,
    as_json: bool,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Start one run per fire time in [--from, --to], at most --max-parallel at once.

    The orchestrators carry it out (it goes on if this command ends, and resumes after a
    restart); fire times that already have a run start nothing new.
    """
    first, last = _iso(start, "--from"), _iso(end, "--to")

    async def go(c: DagqClient) -> BackfillView:
        view = await c.start_backfill(schedule_id, first, last, max_parallel)
        while wait and view.state == BackfillState.RUNNING:
            await asyncio.sleep(0.5)
            view = await c.get_backfill(schedule_id)
        return view

    view = Remote(api_url, api_key, as_json).run("start backfills", go)
    if as_json:
        echo_json(view)
        return
    click.echo(
        f"backfill of {schedule_id}: {view.total} fire(s) from {view.from_} to "
        f"{view.to}; {view.started} started ({view.created} new), {view.state}"
    )
    if view.error:
        click.echo(f"error: {view.error}", err=True)
    elif view.waitingFor and view.state == BackfillState.RUNNING:
        click.echo(f"waiting for room: {view.waitingFor}")
