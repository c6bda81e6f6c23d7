"""Isolated handlers in real child processes: memory limits, timeouts that kill, logs that
come back, and a worker that carries on."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.worker.isolation import IsolationOptions
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.conftest import until
from tests.integration.conftest import Stack, StackFactory

GIB = 1024**3


def children_of(pid: int) -> list[int]:
    """Live (and zombie) child processes of ``pid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(name))
    return found


def hog(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    print("allocating 2 GiB")
    block = bytearray(2 * GIB)
    return {"size": len(block)}


def ok(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    ctx.logger.info("served by pid %d", os.getpid())
    return {"pid": os.getpid()}


def spin(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    print(f"attempt {ctx.attempt} spinning")
    while True:
        pass


def in_thread(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    return {"pid": os.getpid(), "thread": threading.current_thread().name}


@pytest.fixture
async def isolated(make_stack: StackFactory) -> AsyncIterator[tuple[Stack, Worker]]:
    """An orchestrator and one worker whose ``hog``, ``ok`` and ``spin`` run in children."""
    stack = await make_stack()
    registry = Registry()
    for fn in (hog, ok, spin):
        registry.register(fn.__name__, fn, isolation="process")
    registry.register("in_thread", in_thread)
    stack.start(workers=0)
    options = IsolationOptions(max_memory_per_job=256 * 1024**2, kill_grace_s=0.5)
    worker = Worker(
        stack.redis, stack.keys, stack.settings, registry, concurrency=4, isolation=options
    )
    task = asyncio.create_task(worker.run(stack.stop))
    yield stack, worker
    stack.stop.set()
    await asyncio.wait_for(task, 30)
    assert not children_of(os.getpid()) or all(
        pid not in worker.pool.pids() for pid in children_of(os.getpid())
    )


async def test_a_2gib_allocation_under_a_256mib_limit_fails_and_the_worker_serves_on(
    isolated: tuple[Stack, Worker],
) -> None:
    stack, worker = isolated
    await stack.workflow(
        {
            "id": "greedy",
            "name": "Greedy",
            "nodes": [
                {"id": "grab", "type": "task", "handler": "hog", "retries": 0,
                 "resources": {"memory": "256MiB"}},
            ],
        }
    )  # fmt: skip
    await stack.workflow(
        {
            "id": "after",
            "name": "After",
            "nodes": [
                {"id": "a", "type": "task", "handler": "ok"},
                {"id": "b", "type": "task", "handler": "in_thread"},
            ],
        }
    )
    failed = await stack.run("greedy")
    assert failed.status == "failed"
    assert failed.nodes["grab"].last_error == "memory limit 256 MiB exceeded"
    logs, _ = await stack.service.logs(failed.run_id, node_id="grab")
    assert any("allocating 2 GiB" in line[2] for entry in logs for line in entry.lines)

    done = await stack.run("after")
    assert done.status == "completed", done.nodes
    out_a, out_b = done.nodes["a"].output, done.nodes["b"].output
    assert out_a is not None and out_b is not None
    child = out_a["pid"]
    assert child != os.getpid() and child in children_of(os.getpid())
    assert out_b["pid"] == os.getpid()  # in-thread handlers stay in-thread
    logs, _ = await stack.service.logs(done.run_id, node_id="a")
    assert any(f"served by pid {child}" in line[2] for entry in logs for line in entry.lines)
    assert worker.processed == 3


async def test_the_workers_default_limit_applies_to_tasks_that_declare_none(
    isolated: tuple[Stack, Worker],
) -> None:
    stack, _ = isolated
    await stack.workflow(
        {
            "id": "plain",
            "name": "Plain",
            "nodes": [{"id": "grab", "type": "task", "handler": "hog", "retries": 0}],
        }
    )
    failed = await stack.run("plain")
    assert failed.nodes["grab"].last_error == "memory limit 256 MiB exceeded"


async def test_an_endless_sync_handler_is_killed_at_its_timeout_and_retried(
    isolated: tuple[Stack, Worker],
) -> None:
    stack, worker = isolated
    me = os.getpid()
    threads_before = threading.active_count()
    children_before = set(children_of(me))
    await stack.workflow(
        {
            "id": "endless",
            "name": "Endless",
            "nodes": [{"id": "loop", "type": "task", "handler": "spin", "timeout": "1s",
                       "retries": 1}],
        }
    )  # fmt: skip
    state = await stack.run("endless", timeout_s=60)
    assert state.status == "failed"
    assert state.nodes["loop"].attempts == 2
    assert state.nodes["loop"].last_error == "killed after timeout 1s"
    events = await stack.events(state.run_id)
    retrying = [e for e in events if e.type == "node_retrying"]
    assert retrying and retrying[0].data["error"] == "killed after timeout 1s"
    assert retrying[0].data["timeout"] is True
    logs, _ = await stack.service.logs(state.run_id, node_id="loop")
    assert len(logs) == 2  # each attempt has its log entry, even when killed

    async def back_to_normal() -> bool:
        return (
            threading.active_count() == threads_before and set(children_of(me)) <= children_before
        )

    await until(back_to_normal, "the killed children reaped and no thread left behind")
    assert worker.pool.killed == 2 and worker.busy_threads() == 0

    # The worker carries on: the next isolated job gets a fresh child.
    await stack.workflow(
        {"id": "next", "name": "Next", "nodes": [{"id": "a", "type": "task", "handler": "ok"}]}
    )
    assert (await stack.run("next")).status == "completed"


async def test_the_decorator_isolates_a_handler_loaded_from_a_file(tmp_path: Path) -> None:
    source = tmp_path / "resize_handlers.py"
    source.write_text(
        "from orchestrator import handler\n"
        "@handler('resize', isolation='process')\n"
        "def resize(data, ctx):\n    return {}\n"
        "@handler('plain')\n"
        "def plain(data, ctx):\n    return {}\n"
    )
    registry = Registry()
    registry.load(str(source))
    resize, plain = registry.get("resize"), registry.get("plain")
    assert resize is not None and plain is not None
    assert IsolationOptions().isolates(resize) and not IsolationOptions().isolates(plain)
    assert IsolationOptions(mode="process").isolates(plain)
