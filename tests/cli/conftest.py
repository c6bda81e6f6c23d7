"""Fixtures of the remote CLI tests: the real API (tests/api's fixtures) on a TCP port,
a real in-process worker with examples/handlers.py, and a CliRunner that calls it.

The commands run ``asyncio.run`` themselves, so each one runs in a thread while the
test's event loop keeps serving the API and the worker.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner, Result

from orchestrator.cli import build_cli
from orchestrator.settings import Settings
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker
from tests.api import conftest as api_fixtures
from tests.api.conftest import Api

# The API tests' fixtures, reused by name: policies with one user per role, the settings
# on the test Redis under the test's key prefix, and the app on a real TCP port.
policies = api_fixtures.policies
role_keys = api_fixtures.role_keys
settings = api_fixtures.settings
make_api = api_fixtures.make_api
api = api_fixtures.api

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# Variables that would point a command somewhere else than where the test says.
CLEAN_ENV: dict[str, str | None] = {
    "DAGQ_API_URL": None,
    "DAGQ_API_KEY": None,
    "DAGQ_API_TOKEN": None,
    "DAGQ_CONFIG": None,
}


@dataclass
class Flaky:
    """The ``flaky`` handler: fails the first ``failures`` calls of each run."""

    failures: int = 1
    calls: dict[str, int] = field(default_factory=dict)
    gate: threading.Event | None = None
    """When given, each call waits for it (a test lets the run go on when it is ready)."""

    def __call__(self, data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        if self.gate is not None and not self.gate.wait(timeout=60):
            raise RuntimeError("the test never opened the gate")
        n = self.calls[ctx.run_id] = self.calls.get(ctx.run_id, 0) + 1
        if n <= self.failures:
            raise RuntimeError(f"flaky failure {n}")
        return {"calls": n}


def registry(flaky: Flaky | None = None) -> Registry:
    """examples/handlers.py plus the test's ``flaky`` handler."""
    reg = Registry()
    reg.load(str(EXAMPLES / "handlers.py"))
    reg.register("flaky", flaky or Flaky())
    return reg


@dataclass
class Cli:
    """Runs ``dagq`` commands against one API as a given role."""

    api: Api
    data_dir: Path

    async def __call__(
        self,
        *args: str,
        role: str | None = "admin",
        input: str | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        """``dagq ARGS --api URL --key KEY(role)``; ``role=None`` leaves both out."""
        argv: list[str] = list(args)
        if role is not None:
            argv += ["--api", self.api.base_url, "--key", self.api.keys[role]]
        return await invoke(
            argv, input=input, env={"DAGQ_DATA_DIR": str(self.data_dir), **(env or {})}
        )


async def invoke(
    argv: Sequence[str], *, input: str | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    """Run the ``dagq`` group in a thread; an exception other than an exit fails the test."""
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, build_cli(), list(argv), input=input, env={**CLEAN_ENV, **(env or {})}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def flaky() -> Flaky:
    """The flaky handler the worker offers."""
    return Flaky()


@pytest.fixture
async def worker(api: Api, flaky: Flaky) -> AsyncIterator[None]:
    """A real worker on the API's Redis offering examples/handlers.py and ``flaky``."""
    stop = asyncio.Event()
    w = Worker(api.conn.redis, api.conn.keys, api.settings, registry(flaky), concurrency=4)
    task = asyncio.create_task(w.run(stop))
    yield
    stop.set()
    await task


@pytest.fixture
def cli(api: Api, tmp_path: Path) -> Cli:
    """``await cli("runs", "ls")`` against the test API (no worker)."""
    data_dir = tmp_path / "cli-data"
    data_dir.mkdir()
    return Cli(api, data_dir)


def settings_with(base: Settings, **queue: Any) -> Settings:
    """``base`` with some ``queue`` settings changed."""
    return base.model_copy(update={"queue": base.queue.model_copy(update=queue)})


@dataclass
class Receiver:
    """Answers 500 to the first ``fail_first`` POSTs, then 200; keeps every request."""

    fail_first: int = 0
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((dict(request.headers), await request.read()))
        return web.Response(status=500 if len(self.seen) <= self.fail_first else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """A notify receiver on 127.0.0.1 (which the guard refuses unless allowed)."""
    rec = Receiver(fail_first=2)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield rec, str(server.make_url("/hook"))
    await server.close()
