"""``dagq run``: register a spec, start a run, optionally execute it here and wait.

Storing the workflow and starting the run are changes made outside the API, so each is
audited like the API's (see ``cli.audited``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import click

from orchestrator.cli.exits import Exit, fail
from orchestrator.cli.remote.runs import parse_params, progress_lines
from orchestrator.engine.state import RunState
from orchestrator.errors import DagqError
from orchestrator.logs import setup_logging
from orchestrator.settings import Settings, load_settings
from orchestrator.spec.handlers import handler_issues
from orchestrator.spec.limits import judge_spec
from orchestrator.spec.loader import load_file, spec_invalid
from orchestrator.spec.model import WorkflowSpec
from orchestrator.store.records import WorkflowRecord
from orchestrator.vocab import RunStatus
from orchestrator.wire.runs import WorkflowRun
from orchestrator.worker.registry import Registry


def checked_spec(spec_path: str, settings: Settings) -> WorkflowSpec:
    """The spec of ``spec_path`` if ``workflows push`` would store it: the same graph checks
    and resource limits (SpecInvalid with every error otherwise)."""
    result, spec = judge_spec(load_file(spec_path), settings)
    result.raise_if_invalid(spec_path)
    assert spec is not None  # valid
    return spec


async def _run(
    spec_path: str,
    extra_paths: tuple[str, ...],
    handlers: tuple[str, ...],
    params: dict[str, Any],
    wait: bool,
    timeout_s: float | None,
    concurrency: int,
) -> tuple[int, dict[str, Any]]:
    from orchestrator.cli.audited import cli_audit
    from orchestrator.runtime.oneshot import local_stack
    from orchestrator.service.workflows import upsert_workflow
    from orchestrator.store.connection import connect

    settings = load_settings()
    spec = checked_spec(spec_path, settings)
    extras = [(path, checked_spec(path, settings)) for path in extra_paths]
    registry = Registry()
    for source in handlers:
        registry.load(source)
    if handlers:
        by = f"handler of {', '.join(handlers)}"
        for path, each in [(spec_path, spec), *extras]:
            missing = handler_issues(each, registry.names(), by=by)
            if missing:
                raise spec_invalid(missing, path)
    conn = await connect(settings)
    try:
        async with (
            cli_audit(settings, conn) as audit,
            local_stack(conn, registry if wait else None, concurrency=concurrency) as svc,
        ):

            async def store(each: WorkflowSpec = spec) -> WorkflowRecord:
                return await upsert_workflow(svc, each, user="cli")

            for _, extra in extras:  # the sub-workflows the spec starts
                if audit is None:
                    await store(extra)
                else:
                    await audit.change(
                        "storeWorkflow",
                        f"workflow {extra.id}",
                        lambda extra=extra: store(extra),  # type: ignore[misc]
                        done=lambda r: f"version {r.version}",
                    )

            async def start(workflow_id: str) -> RunState:
                return await svc.start(workflow_id, params, user="cli")

            if audit is None:
                record = await store()
                state = await start(record.spec.id)
            else:
                record = await audit.change(
                    "storeWorkflow",
                    f"workflow {spec.id}",
                    store,
                    done=lambda r: f"version {r.version}",
                )
                state = await audit.change(
                    "startWorkflowRun",
                    f"workflow {record.spec.id}",
                    lambda: start(record.spec.id),
                    done=lambda s: f"run {s.run_id}",
                )
            logging.getLogger("dagq").info("started %s of %s", state.run_id, record.spec.id)
            if wait:
                state = await svc.wait(state.run_id, timeout_s=timeout_s)
            view = await svc.describe(state)
    finally:
        await conn.aclose()
    if not wait:
        return Exit.OK, view
    return (Exit.OK if state.status == RunStatus.COMPLETED else Exit.FAILED), view


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--handlers", "-H", multiple=True, help="Handler file or module (repeatable).")
@click.option(
    "--with",
    "extra",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Also store this workflow first: a sub-workflow SPEC starts (repeatable).",
)
@click.option("--params", "params_text", metavar="JSON", help="Run parameters as a JSON object.")
@click.option(
    "--param", "pairs", multiple=True, metavar="NAME=VALUE", help="One parameter (repeatable)."
)
@click.option("--wait/--no-wait", default=False, help="Execute here and wait for the end.")
@click.option("--json", "as_json", is_flag=True, help="Print the run state as one JSON document.")
@click.option("--timeout", "timeout_s", type=float, help="Give up waiting after this many seconds.")
@click.option("--concurrency", type=click.IntRange(1, 1024), default=8, show_default=True)
def run(
    spec: str,
    handlers: tuple[str, ...],
    extra: tuple[str, ...],
    params_text: str | None,
    pairs: tuple[str, ...],
    wait: bool,
    as_json: bool,
    timeout_s: float | None,
    concurrency: int,
) -> None:
    """Register SPEC, start a run and (with --wait) execute it with in-process workers.

    Exit status: 0 the run completed (or was started, without --wait), 1 it ended
    otherwise, 2 it could not start (bad spec, bad parameters, Redis unreachable).
    """
    setup_logging("run")
    params = parse_params(params_text, pairs)
    if wait and not handlers:
        raise click.UsageError("--wait executes the run here: give --handlers FILE_OR_MODULE")
    try:
        code, view = asyncio.run(_run(spec, extra, handlers, params, wait, timeout_s, concurrency))
    except DagqError as exc:
        fail(exc, as_json=as_json, code=Exit.USAGE)  # the run could not start
    if as_json:
        click.echo(json.dumps(view, indent=2))
    else:
        click.echo(f"{view['runId']}: {view['status']}")
        for node_id, node in view["nodes"].items():
            err = f"  ({node['lastError']})" if node.get("lastError") else ""
            click.echo(f"  {node['status']:<12} {node_id}{err}")
        for line in progress_lines(WorkflowRun.model_validate(view)):
            click.echo(f"  {line}")
    sys.exit(code)
