"""Fixtures of the Monitor/Queues/Admin tests: a real API on the test Redis, a real worker.

The API runs in-process on aiohttp's TestServer on a fixed port, so a test can stop
it under the app and start it again at the same address (a lost connection).  The
worker serves ``examples/handlers.py`` plus ``flakyStep`` (fails its first call only)
and has its own Redis connection, so it keeps working while the API is down.

Bind the fixtures in a test module (an assignment, so linters see no shadowed import)::

    from tests.tui import ops_fixtures
    ops = ops_fixtures.ops
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from textual.pilot import Pilot
from textual.widgets import Button

from app.app import DagqApp
from app.factory import create_app
from app.screens.dialogs.confirm import ConfirmDialog
from orchestrator.api.app import MAX_LINE_BYTES
from orchestrator.api.app import create_app as create_api
from orchestrator.client import DagqClient
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.settings import Settings
from orchestrator.spec.loader import parse_document, read_document
from orchestrator.store.connection import Connection, connect
from orchestrator.wire.runs import WorkflowRun
from orchestrator.worker.registry import HandlerContext, Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import ROLES, make_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PIPELINE = "data-processing-pipeline"
ORDERS = "order-processing"
FLAKY = "flaky"
STUCK = "stuck"


def example(name: str) -> dict[str, Any]:
    """An example workflow file as data."""
    data: dict[str, Any] = parse_document(read_document(EXAMPLES / name), name)
    return data


def flaky_spec() -> dict[str, Any]:
    """prepare -> flaky (fails its first call, no retries) -> finish."""
    return {
        "id": FLAKY,
        "name": "Flaky",
        "nodes": [
            {"id": "prepare", "type": "task", "handler": "fetchData"},
            {"id": "flaky", "type": "task", "handler": "flakyStep", "retries": 0},
            {"id": "finish", "type": "task", "handler": "sendNotification"},
        ],
        "edges": [
            {"source": "prepare", "target": "flaky"},
            {"source": "flaky", "target": "finish"},
        ],
    }


def stuck_spec() -> dict[str, Any]:
    """One task whose handler no worker offers: its run stays queued."""
    return {
        "id": STUCK,
        "name": "Stuck",
        "nodes": [{"id": "wait_here", "type": "task", "handler": "nobodyOffersThis", "retries": 0}],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass
class OpsStack:
    """The API (stoppable), its settings, one key per role and an admin client."""

    settings: Settings
    policies: Path
    conn: Connection
    keys: dict[str, str]
    port: int = field(default_factory=_free_port)
    server: TestServer | None = None
    apps: list[DagqApp] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Where the API listens (the same across restarts)."""
        return f"http://127.0.0.1:{self.port}"

    async def start_api(self) -> None:
        """Serve the API (with its orchestrator loop) on :attr:`port`."""
        api: web.Application = create_api(
            self.settings, self.conn, policies_dir=self.policies, watch_interval_s=0.1
        )
        server = TestServer(
            api, port=self.port, max_line_size=MAX_LINE_BYTES, max_field_size=MAX_LINE_BYTES
        )
        await server.start_server()
        self.server = server

    async def stop_api(self) -> None:
        """Stop serving (open event streams are cut)."""
        if self.server is not None:
            server, self.server = self.server, None
            await server.close()

    def client(self, role: str = "admin") -> DagqClient:
        """A client authenticated as ``role``."""
        return DagqClient(self.base_url, api_key=self.keys[role])

    def app(self, role: str = "admin", *, start_mode: str = "monitor") -> DagqApp:
        """The real app (the one factory), as ``role``, opening on ``start_mode``."""
        app = create_app(client=self.client(role), settings=self.settings, start_mode=start_mode)
        self.apps.append(app)
        return app

    async def seed(self) -> None:
        """Store Example 1, Example 2 and the flaky and stuck workflows."""
        async with self.client("admin") as c:
            for spec in (
                example("data-pipeline.yaml"),
                example("order-processing.yaml"),
                flaky_spec(),
                stuck_spec(),
            ):
                await c.create_workflow(spec)

    async def start_run(self, workflow_id: str, params: dict[str, Any] | None = None) -> str:
        """Start a run as the admin; its id."""
        async with self.client("admin") as c:
            run = await c.start_run(workflow_id, params or {})
        return str(run.runId)

    async def get_run(self, run_id: str) -> WorkflowRun:
        """The run as the API shows it now."""
        async with self.client("admin") as c:
            return await c.get_run(run_id)

    async def wait_run(self, run_id: str, timeout_s: float = 20.0) -> WorkflowRun:
        """The run once it has ended (polling the API with a deadline)."""
        async with self.client("admin") as c:
            deadline = asyncio.get_running_loop().time() + timeout_s
            while True:
                view = await c.get_run(run_id)
                if view.status in ("completed", "failed", "compensated", "cancelled"):
                    return view
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"run {run_id} still {view.status}")
                await asyncio.sleep(0.05)


@pytest.fixture
async def ops(redis_url: str, key_prefix: str, tmp_path: Path) -> AsyncIterator[OpsStack]:
    """A running API with the example workflows stored."""
    policies = ensure_policies_dir(tmp_path / "policies")
    store = UserStore.in_dir(policies)
    keys = {role: store.add(name, role)[1] for role, name in ROLES.items()}
    settings = make_settings(redis_url, key_prefix, tmp_path / "data")
    conn = await connect(settings)
    stack = OpsStack(settings, policies, conn, keys)
    await stack.start_api()
    try:
        await stack.seed()
        yield stack
    finally:
        for app in stack.apps:
            await app.session.aclose()  # the app's client, if the app did not close it
        await stack.stop_api()
        await conn.aclose()


def _flaky_registry() -> Registry:
    registry = Registry()
    registry.load(str(EXAMPLES / "handlers.py"))
    calls: list[str] = []

    def flaky(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        calls.append(ctx.run_id)
        if calls.count(ctx.run_id) == 1:
            raise RuntimeError("flaky step failed on its first call")
        return {"flaky": "ok now"}

    registry.register("flakyStep", flaky)
    return registry


@asynccontextmanager
async def running_worker(
    settings: Settings, registry: Registry, **options: Any
) -> AsyncIterator[Worker]:
    """A real in-process worker on its own Redis connection, stopped on the way out
    (``options`` go to :class:`Worker`: ``concurrency``, ``worker_id``...)."""
    conn = await connect(settings)
    worker = Worker(conn.redis, conn.keys, settings, registry, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await task
        await conn.aclose()


@pytest.fixture
async def ops_worker(ops: OpsStack) -> AsyncIterator[Worker]:
    """A real in-process worker with the example handlers (own Redis connection)."""
    async with running_worker(ops.settings, _flaky_registry(), concurrency=4) as worker:
        yield worker


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], *, timeout_s: float = 15.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` holds (a deadline, not a timed assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


async def asked(pilot: Any, question: str, buttons: tuple[str, str]) -> ConfirmDialog:
    """The confirmation on screen, with ``question`` and ``buttons`` (keep, confirm)."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="the question")
    dialog = pilot.app.screen
    assert isinstance(dialog, ConfirmDialog)
    assert dialog.question == question
    labels = tuple(str(dialog.query_one(f"#{b}", Button).label) for b in ("cancel", "confirm"))
    assert labels == buttons
    return dialog
