"""Redis gone under a running API: requests get a 503 to retry, never a 500."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from orchestrator.store.devcluster import free_cluster_ports
from tests.api.conftest import AppFactory, make_settings
from tests.conftest import redis_server_binary


@pytest.fixture
def doomed_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own, to be killed."""
    port = free_cluster_ports(1)[0]
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, socket_connect_timeout=1)
    try:
        while True:  # until it answers (or has died)
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None, "the test's redis-server did not start"
                time.sleep(0.02)  # poll again
    finally:
        client.close()
    try:
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.kill()
        proc.wait()


async def test_a_request_while_redis_is_down_is_a_503_to_retry(
    make_api: AppFactory,
    doomed_redis: tuple[str, subprocess.Popen[bytes]],
    key_prefix: str,
    tmp_path: Path,
) -> None:
    url, proc = doomed_redis
    api = await make_api(make_settings(url, key_prefix, tmp_path / "data"), orchestrator=False)
    ok = await api.client.get("/api/v1/workflows", headers=api.auth("admin"))
    assert ok.status == 200
    proc.kill()
    proc.wait()
    down = await api.client.get("/api/v1/workflows", headers=api.auth("admin"))
    body = await down.json()
    assert down.status == 503, body
    assert body["error"] == "UNAVAILABLE" and "retry" in body["message"]
    assert down.headers["Retry-After"] == "5"
