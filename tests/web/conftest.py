"""Fixtures of the web front-end tests: a real users file, a real DagqServer in process, a client.

The spawned app is a tiny real Textual app (``envdump_app.py``) that writes its environment
to a file, so the tests can check exactly what a browser session's process receives.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from orchestrator.keys import Keys
from orchestrator.security import tokens
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.ratelimit import LoginThrottle
from orchestrator.security.users import UserStore
from serve.server import DagqServer
from serve.web_store import WebStore

SECRET = "test-secret-" + "x" * 40
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-12", "root": "root-password-1"}
ENVDUMP = Path(__file__).with_name("envdump_app.py")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')

ServerFactory = Callable[..., Awaitable[tuple[DagqServer, TestClient[Any, Any]]]]


@pytest.fixture(scope="session")
def users_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A policies dir with alice (designer), bob (operator) and root (admin)."""
    directory = ensure_policies_dir(tmp_path_factory.mktemp("policies"))
    store = UserStore.in_dir(directory)
    store.add("alice", "designer", password=PASSWORDS["alice"])
    store.add("bob", "operator", password=PASSWORDS["bob"])
    store.add("root", "admin", password=PASSWORDS["root"])
    return directory


@pytest.fixture
def users(users_dir: Path) -> UserStore:
    """The users file (a fresh store object per test)."""
    return UserStore.in_dir(users_dir)


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    """Where the spawned test app writes its environment."""
    return tmp_path / "env.json"


@pytest.fixture
async def make_server(
    users: UserStore, env_file: Path, redis_client: aioredis.Redis, keys: Keys
) -> AsyncIterator[ServerFactory]:
    """Build a DagqServer (keyword overrides allowed) and a test client for it.

    Every server of one test shares the test's Redis and key prefix, as replicas of one
    deployment do; ``login_*`` overrides tune the sign-in throttle.
    """
    clients: list[tuple[DagqServer, TestClient[Any, Any]]] = []

    async def factory(**overrides: Any) -> tuple[DagqServer, TestClient[Any, Any]]:
        command = f"{shlex.quote(sys.executable)} {shlex.quote(str(ENVDUMP))} {env_file}"
        throttle = {
            name: overrides.pop(f"login_{name}")
            for name in ("max_user_failures", "max_address_failures", "window_s")
            if f"login_{name}" in overrides
        }
        options: dict[str, Any] = {
            "users": users,
            "token_minter": lambda user, role: tokens.mint(user, role, secret=SECRET, ttl_s=60),
            "api_url": "http://api.test:8080",
            "secret": SECRET,
            "admin_user": "root",
            "store": WebStore(
                redis_client, keys, throttle=LoginThrottle(redis_client, keys, **throttle)
            ),
        }
        options.update(overrides)
        server = DagqServer(options.pop("command", command), **options)
        client: TestClient[Any, Any] = TestClient(TestServer(await server.make_app()))
        await client.start_server()
        await server.publish_link()  # what start() does for a real server
        clients.append((server, client))
        return server, client

    yield factory
    for server, client in clients:
        await client.close()
        await server.shutdown()  # waits until every app process is stopped and reaped


def csrf_of(html: str) -> str:
    """The hidden CSRF field of a page."""
    match = _CSRF.search(html)
    assert match, html
    return match.group(1)


def origin_of(client: TestClient[Any, Any]) -> str:
    """The test server's own origin, as a browser on it would send."""
    return str(client.make_url("")).rstrip("/")


async def login(
    client: TestClient[Any, Any], user: str, password: str | None = None
) -> aiohttp.ClientResponse:
    """Sign in through the form as a browser would (GET the form, POST it back)."""
    page = await client.get("/login")
    csrf = csrf_of(await page.text())
    return await client.post(
        "/login",
        data={"username": user, "password": password or PASSWORDS[user], "csrf": csrf},
        allow_redirects=False,
    )


async def open_app(client: TestClient[Any, Any]) -> aiohttp.ClientWebSocketResponse:
    """Connect the app websocket with our own Origin and wait for the app's first output."""
    ws = await client.ws_connect("/ws?width=100&height=30", origin=origin_of(client))
    while True:
        message = await ws.receive(timeout=60)
        if message.type == aiohttp.WSMsgType.BINARY:
            return ws
        if message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}:
            raise AssertionError(f"app socket closed before any output: {message}")


async def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    """Poll ``predicate`` until true (an event we cannot await directly), with a deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def read_env(path: Path) -> dict[str, str]:
    """The environment the spawned test app recorded."""
    data: dict[str, str] = json.loads(path.read_text("utf-8"))
    return data
