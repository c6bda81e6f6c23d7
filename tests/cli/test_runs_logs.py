"""Handler logs (issue 12, item 4): each attempt's ``ctx.logger`` lines, ``logging``
records and ``print`` output are kept (bounded, secrets masked) and shown by
``GET /runs/{id}/nodes/{node}/logs`` and ``dagq runs logs [--follow]``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from orchestrator.client import DagqClient
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api
from tests.cli.conftest import Cli
from tests.conftest import until

SECRET_KEY = "dagq_AbCdEfGh_s3cretPartOfTheKeyXYZ123"
SPEC = {
    "id": "chatty",
    "name": "Chatty",
    "nodes": [
        {"id": "talk", "type": "task", "handler": "talk", "retries": 1},
        {"id": "shout", "type": "task", "handler": "shout"},
    ],
    "edges": [{"source": "talk", "target": "shout"}],
}


def talk(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Logs three ways; fails its first attempt."""
    ctx.logger.info("attempt %d of %s, password=hunter2", ctx.attempt, ctx.node_id)
    print(f"printed by attempt {ctx.attempt} with key {SECRET_KEY}")
    logging.getLogger("thirdparty.client").warning("a library warns")
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return {}


async def shout(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Prints more lines than an attempt keeps."""
    for i in range(1500):
        print(f"line {i}")
    return {}


@pytest.fixture
async def chatty_worker(api: Api) -> AsyncIterator[None]:
    registry = Registry()
    registry.register("talk", talk)
    registry.register("shout", shout)
    stop = asyncio.Event()
    worker = Worker(api.conn.redis, api.conn.keys, api.settings, registry, concurrency=2)
    task = asyncio.create_task(worker.run(stop))
    yield
    stop.set()
    await task


async def _finished_run(api: Api) -> str:
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as c:
        await c.create_workflow(SPEC)
        run_id = str((await c.start_run("chatty", {})).runId)

        async def ended() -> bool:
            return bool((await c.get_run(run_id)).status == "completed")

        await until(ended, "the run to complete")
    return run_id


@pytest.mark.usefixtures("chatty_worker")
async def test_each_attempts_lines_over_the_api_and_the_cli(cli: Cli) -> None:
    run_id = await _finished_run(cli.api)
    resp = await cli.api.client.get(
        f"/api/v1/runs/{run_id}/nodes/talk/logs", headers=cli.api.auth("operator")
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["runId"] == run_id and body["nodeId"] == "talk"
    first, second = body["attempts"]
    assert (first["attempt"], first["outcome"]) == (1, "failed")
    assert (second["attempt"], second["outcome"]) == (2, "succeeded")
    assert [(line["level"], line["text"]) for line in second["lines"]] == [
        ("INFO", "attempt 2 of talk, password=***"),
        ("stdout", "printed by attempt 2 with key dagq_AbCdEfGh_***"),
        ("WARNING", "thirdparty.client: a library warns"),
    ]
    assert SECRET_KEY not in json.dumps(body) and "hunter2" not in json.dumps(body)

    [shouted] = (await cli("runs", "logs", run_id, "shout", "--json")).stdout.splitlines()
    shouted_attempt = json.loads(shouted)
    assert shouted_attempt["dropped"] == 500  # the last 1000 lines are kept
    assert shouted_attempt["lines"][0]["text"] == "line 500"
    assert shouted_attempt["lines"][-1]["text"] == "line 1499"

    shown = await cli("runs", "logs", run_id, role="operator")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    heads = [line for line in lines if line.startswith("── ")]
    assert [h.split("  on ")[0] for h in heads] == [
        "── talk  attempt 1  failed",
        "── talk  attempt 2  succeeded",
        "── shout  attempt 1  succeeded",
    ]
    assert any(line.endswith("INFO     attempt 1 of talk, password=***") for line in lines)
    assert "   (… 500 earlier lines not kept)" in lines

    missing = await cli("runs", "logs", run_id, "nope")
    assert missing.exit_code == 1 and "no node 'nope'" in missing.stderr
    designer = await cli.api.client.get(
        f"/api/v1/runs/{run_id}/logs", headers=cli.api.auth("designer")
    )
    assert designer.status == (await _status_of_get_run(cli.api, run_id, "designer"))


async def _status_of_get_run(api: Api, run_id: str, role: str) -> int:
    """Reading logs is allowed exactly as reading the run."""
    resp = await api.client.get(f"/api/v1/runs/{run_id}", headers=api.auth(role))
    return resp.status


@pytest.mark.usefixtures("chatty_worker")
async def test_follow_prints_attempts_until_the_run_ends(cli: Cli) -> None:
    async with DagqClient(cli.api.base_url, api_key=cli.api.keys["admin"]) as c:
        await c.create_workflow(SPEC)
        run_id = str((await c.start_run("chatty", {})).runId)
    followed = await cli("runs", "logs", run_id, "talk", "--follow")
    assert followed.exit_code == 0, followed.output
    heads = [line for line in followed.stdout.splitlines() if line.startswith("── ")]
    assert [h.split("  on ")[0] for h in heads] == [
        "── talk  attempt 1  failed",
        "── talk  attempt 2  succeeded",
    ]
