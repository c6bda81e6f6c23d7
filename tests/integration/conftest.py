"""A real dagq stack on the test Redis: run service, orchestrators and workers in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from orchestrator.engine.state import RunState
from orchestrator.keys import Keys
from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.runs import RunService
from orchestrator.settings import Settings
from orchestrator.spec.model import WorkflowSpec
from orchestrator.store.connection import Connection, connect
from orchestrator.store.event_codec import StoredEvent
from orchestrator.worker.registry import HandlerFn, Registry
from orchestrator.worker.worker import Worker


def fast_settings(redis_url: str, prefix: str, **queue: Any) -> Settings:
    """Settings with short intervals so tests finish quickly (no timing assertions)."""
    return Settings(
        redis_url=redis_url,
        workflow={
            "storage": {"prefix": prefix},
            "execution": {
                "retry_policy": {"initial_interval": 0.01, "max_interval": 0.05, "backoff": "fixed"}
            },
        },
        queue={"heartbeat_interval": 0.2, "visibility_timeout": 10, **queue},
    )


StackFactory = Callable[..., Awaitable["Stack"]]


@dataclass
class Stack:
    """Running orchestrators and workers plus helpers to drive runs."""

    redis: aioredis.Redis
    keys: Keys
    settings: Settings
    service: RunService
    registry: Registry
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def handler(self, name: str) -> Callable[[HandlerFn], HandlerFn]:
        """Register a test handler."""

        def deco(fn: HandlerFn) -> HandlerFn:
            self.registry.register(name, fn)
            return fn

        return deco

    def start(
        self,
        *,
        orchestrators: int = 1,
        workers: int = 1,
        concurrency: int = 16,
        embedded: bool = False,
    ) -> list[Orchestrator]:
        """Start the loops (after the handlers are registered); the orchestrators.

        ``embedded``: each worker has an orchestrator of its own and applies its own
        results through it, as ``dagq worker`` does."""
        orchs = []
        for _ in range(orchestrators):
            orch = Orchestrator(RunService(self.redis, self.keys, self.settings), claim_idle_s=2)
            orchs.append(orch)
            self.tasks.append(asyncio.create_task(orch.run(self.stop)))
        for _ in range(workers):
            own = None
            if embedded:
                own = Orchestrator(RunService(self.redis, self.keys, self.settings), claim_idle_s=2)
                orchs.append(own)
                self.tasks.append(asyncio.create_task(own.run(self.stop)))
            worker = Worker(
                self.redis,
                self.keys,
                self.settings,
                self.registry,
                concurrency=concurrency,
                applier=own.apply_results if own is not None else None,
            )
            self.tasks.append(asyncio.create_task(worker.run(self.stop)))
        return orchs

    async def workflow(self, spec: dict[str, Any] | str) -> WorkflowSpec:
        """Store a spec (a dict, or YAML text) and return it."""
        data = yaml.safe_load(spec) if isinstance(spec, str) else spec
        model = WorkflowSpec.model_validate(data)
        record = await self.service.workflows.create(model)
        return record.spec

    async def run(
        self, workflow_id: str, params: dict[str, Any] | None = None, timeout_s: float = 30
    ) -> RunState:
        """Start a run and wait for its end."""
        state = await self.service.start(workflow_id, params)
        return await self.wait(state.run_id, timeout_s)

    async def wait(self, run_id: str, timeout_s: float = 30) -> RunState:
        """Wait for a run's end; fail the test with the state when it does not end."""
        state = await self.service.wait(run_id, timeout_s=timeout_s)
        assert state.terminal, f"run did not end: {state.status} {dict(state.nodes)}"
        return state

    async def events(self, run_id: str) -> list[StoredEvent]:
        """All events of a run."""
        return await self.service.events(run_id)

    async def until(self, check: Callable[[], Awaitable[bool]], timeout_s: float = 10) -> None:
        """Poll ``check`` until it is true (fail after ``timeout_s``)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await check():
            assert asyncio.get_running_loop().time() < deadline, "condition never became true"
            await asyncio.sleep(0.02)


@pytest.fixture
async def make_stack(redis_url: str, key_prefix: str) -> AsyncIterator[StackFactory]:
    """Build stacks on this test's key prefix, connected the way production connects."""
    stacks: list[Stack] = []
    conns: list[Connection] = []

    async def build(**queue: Any) -> Stack:
        settings = fast_settings(redis_url, key_prefix, **queue)
        conn = await connect(settings)
        conns.append(conn)
        stack = Stack(
            redis=conn.redis,
            keys=conn.keys,
            settings=settings,
            service=RunService(conn.redis, conn.keys, settings),
            registry=Registry(),
        )
        stacks.append(stack)
        return stack

    yield build
    for stack in stacks:
        stack.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(asyncio.gather(*stack.tasks, return_exceptions=True), 15)
    for conn in conns:
        await conn.aclose()
