"""The audit log: both sinks, newest-first reads, filters and paging (real Redis)."""

from __future__ import annotations

import asyncio
import signal
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from orchestrator.errors import BadRequest
from orchestrator.keys import Keys
from orchestrator.security.audit import AuditLog
from orchestrator.vocab import AuditOutcome
from tests.conftest import until


async def test_record_goes_to_stream_and_file(
    redis_client: aioredis.Redis, keys: Keys, tmp_path: Path
) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    audit = AuditLog(redis_client, keys, path=path)
    try:
        entry_id = await audit.record(
            user="ada",
            role="workflow_admin",
            action="workflow:create",
            resource="/api/v1/workflows",
            outcome=AuditOutcome.ALLOWED,
            request_id="req-1",
            status=201,
        )
        await audit.record(
            user="dee",
            role="workflow_designer",
            action="workflow:execute",
            resource="/api/v1/workflows/w1/runs",
            outcome=AuditOutcome.DENIED,
            request_id="req-2",
            status=403,
            detail="line one\nline two",
        )
    finally:
        audit.close()
    assert await redis_client.xlen(keys.audit_log()) == 2
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2
    first, second = (orjson.loads(line) for line in lines)
    assert first["user"] == "ada" and first["status"] == 201 and first["requestId"] == "req-1"
    assert second["outcome"] == "denied" and second["detail"] == "line one\nline two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    entries = await audit.read()
    assert [e["requestId"] for e in entries] == ["req-2", "req-1"]
    assert entries[1]["id"] == entry_id
    assert entries[0]["status"] == 403 and entries[0]["role"] == "workflow_designer"
    assert entries[0]["time"].endswith("Z")


async def test_read_filters_and_pages(redis_client: aioredis.Redis, keys: Keys) -> None:
    audit = AuditLog(redis_client, keys, path=None)
    ids = []
    for i in range(30):
        ids.append(
            await audit.record(
                user="otto" if i % 3 else None,
                role=None,
                action="run:cancel",
                resource=f"/runs/{i}",
                outcome=AuditOutcome.DENIED if i % 2 else AuditOutcome.ALLOWED,
                request_id=f"r{i}",
            )
        )
    newest = await audit.read(limit=5)
    assert [e["requestId"] for e in newest] == ["r29", "r28", "r27", "r26", "r25"]
    older = await audit.read(before_id=newest[-1]["id"], limit=3)
    assert [e["requestId"] for e in older] == ["r24", "r23", "r22"]
    since = await audit.read(since_id=ids[26])
    assert [e["requestId"] for e in since] == ["r29", "r28", "r27"]
    denied = await audit.read(outcome=AuditOutcome.DENIED, user="otto")
    assert denied and all(e["outcome"] == "denied" and e["user"] == "otto" for e in denied)
    assert len(denied) == len([i for i in range(30) if i % 2 and i % 3])
    anonymous = await audit.read(limit=100)
    assert anonymous[-1]["user"] is None  # r0: no user


async def test_stream_is_trimmed(redis_client: aioredis.Redis, keys: Keys) -> None:
    audit = AuditLog(redis_client, keys, path=None, maxlen=10)
    for i in range(300):
        await audit.record(
            user="u",
            role="r",
            action="a",
            resource="x",
            outcome=AuditOutcome.ERROR,
            request_id=str(i),
        )
    # MAXLEN ~ trims whole macro nodes: approximate, but far below what was written.
    assert await redis_client.xlen(keys.audit_log()) < 300


@pytest.mark.parametrize(
    "kwargs", [{"since_id": "abc"}, {"before_id": "1-2-3"}, {"outcome": "maybe"}]
)
async def test_bad_read_arguments(
    redis_client: aioredis.Redis, keys: Keys, kwargs: dict[str, str]
) -> None:
    with pytest.raises(BadRequest):
        await AuditLog(redis_client, keys, path=None).read(**kwargs)  # type: ignore[arg-type]


async def test_a_change_is_on_record_before_it_and_once_after(
    redis_client: aioredis.Redis, keys: Keys, tmp_path: Path
) -> None:
    audit = AuditLog(redis_client, keys, path=tmp_path / "audit.jsonl")
    pending = await audit.begin(
        user="ada", role="workflow_admin", action="deleteWorkflow", resource="DELETE /w/x",
        request_id="req-9", detail="workflow x",
    )  # fmt: skip
    # Before the change: in flight, not yet in the trail.
    assert await redis_client.hlen(keys.audit_inflight()) == 1
    assert await redis_client.xlen(keys.audit_log()) == 0
    entry_id = await audit.finish(pending, AuditOutcome.ERROR, status=409, detail="active runs")
    assert await redis_client.hlen(keys.audit_inflight()) == 0
    [entry] = await audit.read()
    assert entry["id"] == entry_id
    assert (entry["outcome"], entry["status"], entry["requestId"]) == ("error", 409, "req-9")
    assert entry["detail"] == "workflow x: active runs" and entry["source"] == "api"
    # A live writer's in-flight entries are left alone by the sweep.
    await audit.begin(user="ada", role=None, action="a", resource="r", request_id="req-10")
    assert await audit.sweep() == 0
    assert await redis_client.hlen(keys.audit_inflight()) == 1
    audit.close()
    lines = [orjson.loads(line) for line in (tmp_path / "audit.jsonl").read_bytes().splitlines()]
    assert [line["requestId"] for line in lines] == ["req-9"]


_WRITER = """
import asyncio, sys
from orchestrator.keys import Keys
from orchestrator.security.audit import AuditLog
from orchestrator.store.connection import make_client

async def main() -> None:
    client = make_client(sys.argv[1])
    audit = AuditLog(client, Keys(prefix=sys.argv[2]), path=None, source="cli", owner_ttl_s=1)
    await audit.begin(user="op@host", role=None, action="addUser", resource="user eve",
                      request_id="cli-killed", detail="role workflow_admin")
    print("begun", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def _kill_9_after_begin(redis_url: str, key_prefix: str) -> None:
    """Run a real writer process until it has begun a change, then kill -9 it."""
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, redis_url, key_prefix], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "begun"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)


async def test_a_writer_killed_mid_change_leaves_an_interrupted_entry(
    redis_client: aioredis.Redis, redis_url: str, keys: Keys, key_prefix: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(_kill_9_after_begin, redis_url, key_prefix)
    audit = AuditLog(redis_client, keys, path=tmp_path / "audit.jsonl")
    # The owner key outlives the process by its TTL; then the sweep records the attempt.
    moved: list[int] = []

    async def swept() -> bool:
        moved.append(await audit.sweep())
        return moved[-1] > 0

    await until(swept, "the dead writer's entry to be swept")
    assert moved[-1] == 1
    [entry] = await audit.read()
    assert (entry["outcome"], entry["requestId"], entry["user"]) == (
        "interrupted",
        "cli-killed",
        "op@host",
    )
    assert entry["source"] == "cli" and entry["status"] is None
    assert "may or may not have been applied" in entry["detail"]
    assert "role workflow_admin" in entry["detail"]
    assert await audit.sweep() == 0  # recorded once
    assert await redis_client.hlen(keys.audit_inflight()) == 0
    assert [e["outcome"] for e in await audit.read(outcome="interrupted")] == ["interrupted"]
    audit.close()
