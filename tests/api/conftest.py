"""Fixtures of the API tests: a real Redis, a policies dir with one user per role, the app.

The app runs in-process on aiohttp's TestServer (a real socket), with the orchestrator
loop inside it, exactly as ``dagq api`` runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from orchestrator.api.app import SERVER_OPTIONS, create_app
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.settings import Settings, load_settings
from orchestrator.store.connection import Connection, connect

ROLES = {"designer": "dee", "operator": "otto", "admin": "ada"}


@dataclass
class Api:
    """A running app, its client and one API key per role."""

    client: TestClient[web.Request, web.Application]
    app: web.Application
    conn: Connection
    settings: Settings
    policies: Path
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        """Headers authenticating as ``role`` (designer, operator, admin)."""
        return {"X-API-Key": self.keys[role]}

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the test server."""
        return str(self.client.make_url("")).rstrip("/")


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """Default model and policy."""
    return ensure_policies_dir(tmp_path / "policies")


@pytest.fixture
def role_keys(policies: Path) -> dict[str, str]:
    """dee (designer), otto (operator), ada (admin), added as ``dagq user add`` does."""
    store = UserStore.in_dir(policies)
    return {role: store.add(name, role)[1] for role, name in ROLES.items()}


def make_settings(redis_url: str, prefix: str, data_dir: Path, **workflow: Any) -> Settings:
    """Settings on the test Redis under the test's key prefix."""
    section: dict[str, Any] = {
        "storage": {"prefix": prefix},
        "security": {"rate_limiting": {"create_workflow": "1000/min", "start_run": "1000/min"}},
    }
    for name, value in workflow.items():
        section[name] = {**section.get(name, {}), **value}
    return load_settings(redis_url=redis_url, data_dir=data_dir, workflow=section)


@pytest.fixture
def settings(redis_url: str, key_prefix: str, tmp_path: Path) -> Settings:
    """Settings for one test."""
    return make_settings(redis_url, key_prefix, tmp_path / "data")


AppFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def make_api(policies: Path, role_keys: dict[str, str]) -> AsyncIterator[AppFactory]:
    """Start apps on demand (``await make_api(settings)``); all are stopped at the end."""
    started: list[tuple[TestClient[web.Request, web.Application], Connection]] = []

    async def start(settings: Settings, *, orchestrator: bool = True) -> Api:
        conn = await connect(settings)
        app = create_app(
            settings, conn, policies_dir=policies, run_orchestrator=orchestrator,
            watch_interval_s=0.1,
        )  # fmt: skip
        server = TestServer(app)
        # TestServer(app, **options) drops the options: only start_server passes them on.
        await server.start_server(**SERVER_OPTIONS)
        client: TestClient[web.Request, web.Application] = TestClient(server)
        await client.start_server()
        started.append((client, conn))
        return Api(client, app, conn, settings, policies, dict(role_keys))

    yield start
    for client, conn in reversed(started):
        await client.close()
        await conn.aclose()


@pytest.fixture
async def api(make_api: AppFactory, settings: Settings) -> Api:
    """The app with default settings (generous rate limits)."""
    return await make_api(settings)


def pipeline_spec(workflow_id: str = "pipeline", **extra: Any) -> dict[str, Any]:
    """A small valid workflow: fetch -> transform -> store."""
    return {
        "id": workflow_id,
        "name": "Pipeline",
        "tags": ["demo"],
        "nodes": [
            {"id": "fetch", "type": "task", "handler": "fetch"},
            {"id": "transform", "type": "task", "handler": "transform", "retries": 1},
            {"id": "store", "type": "task", "handler": "store"},
        ],
        "edges": [
            {"source": "fetch", "target": "transform"},
            {"source": "transform", "target": "store"},
        ],
        "parameters": {"records": {"type": "integer", "default": 3}},
        **extra,
    }
