"""``dagq queues``: depths and workers, dead letters listed, requeued and purged by admins only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchestrator.settings import Settings
from orchestrator.store.queue import JobQueue
from orchestrator.worker.worker import Worker
from tests.api.conftest import AppFactory
from tests.cli.conftest import EXAMPLES, Cli, registry, settings_with
from tests.queue.helpers import eventually

PIPELINE = "data-processing-pipeline"


async def dead_letter_next_job(queue: JobQueue, count: int) -> list[str]:
    """Take the waiting fetchData job as a worker that then dies; reclaim it into the DLQ."""
    assert len(await queue.read(["fetchData"], "crashed-worker", 1)) == 1

    async def reclaimed() -> list[str]:
        await queue.reclaim("janitor", ["fetchData"])
        return [d.entry_id for d in await queue.dead_letters()]

    return await eventually(reclaimed, lambda ids: len(ids) == count)


async def test_dead_letters_requeue_and_purge(
    make_api: AppFactory, settings: Settings, tmp_path: Path
) -> None:
    # One delivery only, and a short lease: a crashed delivery is dead-lettered at once.
    tight = settings_with(settings, visibility_timeout=0.05, max_deliveries=1)
    api = await make_api(tight)
    cli = Cli(api, tmp_path)
    queue = JobQueue(api.conn.redis, api.conn.keys, tight)
    await queue.ensure_groups(["fetchData"])
    assert (await cli("workflows", "push", str(EXAMPLES / "data-pipeline.yaml"))).exit_code == 0

    first = (await cli("runs", "start", PIPELINE)).stdout.strip()
    [letter] = await dead_letter_next_job(queue, 1)
    second = (await cli("runs", "start", PIPELINE)).stdout.strip()
    letters = await dead_letter_next_job(queue, 2)
    other = next(i for i in letters if i != letter)

    denied = await cli("queues", "dlq", "ls", role="operator")
    assert denied.exit_code == 3
    # the last line: the in-process API may log a dead-lettering meanwhile
    assert denied.stderr.strip().splitlines()[-1] == (
        "error [FORBIDDEN]: permission denied: operators cannot list dead letters "
        "(system:configure)"
    )
    refused = await cli("queues", "dlq", "purge", other, role="operator")
    assert refused.exit_code == 3 and "cannot purge dead letters" in refused.stderr

    listed = await cli("queues", "dlq", "ls")
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:6] == ["ID", "SHARD", "RUN", "NODE", "HANDLER", "DELIVERIES"]
    by_id = {r.split()[0]: r.split()[1:6] for r in rows}
    assert by_id[letter] == ["0", first, "fetch_data", "fetchData", "1"]
    assert by_id[other][1] == second
    as_json = json.loads((await cli("queues", "dlq", "ls", "--json")).stdout)
    assert {d["id"] for d in as_json["deadLetters"]} == {letter, other}
    depths = await cli("queues", "ls", role="operator")
    assert depths.stdout.splitlines()[-1] == "0 live worker(s), 2 dead letter(s)"

    requeued = await cli("queues", "dlq", "requeue", letter)
    assert (requeued.exit_code, requeued.stdout.strip()) == (0, "requeued 1 of 1")
    purged = await cli("queues", "dlq", "purge", other, "1-0")
    assert (purged.exit_code, purged.stdout.strip()) == (0, "purged 1 of 2")
    assert (await cli("queues", "dlq", "ls")).stdout.strip() == "no dead letters"
    bad_id = await cli("queues", "dlq", "requeue", "not-an-id")
    assert bad_id.exit_code == 2 and "[BAD_REQUEST]" in bad_id.stderr

    stop = asyncio.Event()
    worker = Worker(api.conn.redis, api.conn.keys, tight, registry(), concurrency=4)
    task = asyncio.create_task(worker.run(stop))
    try:
        # The requeued job runs; the purged attempt failed and fetch_data's retry runs it.
        done = await cli("runs", "watch", first)
        assert done.exit_code == 0, done.output
        retried = await cli("runs", "watch", second)
        assert retried.exit_code == 0, retried.output
        assert "purged from the dead-letter queue" in retried.stdout
        workers = await cli("queues", "workers", role="operator")
        header, row = workers.stdout.splitlines()
        assert header.split()[:3] == ["WORKER", "HOST", "PID"]
        assert row.split()[0] == worker.worker_id
        assert "MEMORY" in header and "0 B / " in row  # nothing reserved of its capacity
    finally:
        stop.set()
        await task
