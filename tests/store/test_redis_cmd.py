"""``dagq redis`` against a real embedded server in a temporary data dir."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from orchestrator.cli.redis_cmd import redis_group
from orchestrator.store.embedded import EmbeddedRedis


@pytest.fixture
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir, no Redis URL; whatever starts is stopped afterwards."""
    monkeypatch.delenv("DAGQ_REDIS_URL", raising=False)
    monkeypatch.delenv("DAGQ_CONFIG", raising=False)
    monkeypatch.chdir(data_dir)
    try:
        yield data_dir
    finally:
        EmbeddedRedis(data_dir).stop()


def test_start_status_url_stop(env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(redis_group, ["status"])
    assert result.exit_code == 1 and "Running:    no" in result.output

    result = runner.invoke(redis_group, ["url"])  # it cannot be done as asked: exit 2
    assert result.exit_code == 2 and "error [UNAVAILABLE]" in result.output
    assert "not running" in result.output

    result = runner.invoke(redis_group, ["start"])
    assert result.exit_code == 0, result.output
    assert "started" in result.output and ":***@" in result.output
    assert "already running" in runner.invoke(redis_group, ["start"]).output

    result = runner.invoke(redis_group, ["status", "--json"])
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["kind"] == "embedded" and info["reachable"] and info["keptRunning"]
    assert info["version"].startswith("6.2") and "***" in info["url"]
    assert info["fsync"] == "everysec"  # the documented default

    result = runner.invoke(redis_group, ["url"])
    assert result.exit_code == 0
    client = redis.Redis.from_url(result.output.strip())
    assert client.ping()
    client.close()

    result = runner.invoke(redis_group, ["stop"])
    assert result.exit_code == 0 and "stopped" in result.output
    assert not EmbeddedRedis(env).running()
    assert "not running" in runner.invoke(redis_group, ["stop"]).output


def test_start_with_the_fsync_setting(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGQ_REDIS__EMBEDDED_FSYNC", "always")
    runner = CliRunner()
    assert runner.invoke(redis_group, ["start"]).exit_code == 0
    result = runner.invoke(redis_group, ["status"])
    assert result.exit_code == 0 and "AOF fsync:  always" in result.output
    url = runner.invoke(redis_group, ["url"]).output.strip()
    client = redis.Redis.from_url(url)
    assert client.config_get("appendfsync") == {"appendfsync": "always"}
    client.close()
    runner.invoke(redis_group, ["stop"])


def test_url_start_flag(env: Path) -> None:
    result = CliRunner().invoke(redis_group, ["url", "--start"])
    assert result.exit_code == 0 and result.output.startswith("redis://:")
    assert EmbeddedRedis(env).running()


def test_external_url(env: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    runner = CliRunner()
    monkeypatch.setenv("DAGQ_REDIS_URL", redis_url)
    result = runner.invoke(redis_group, ["status"])
    assert (
        result.exit_code == 0 and "external" in result.output and "Reachable:  yes" in result.output
    )
    assert runner.invoke(redis_group, ["url"]).output.strip() == redis_url
    result = runner.invoke(redis_group, ["start"])  # a configuration conflict: exit 2
    assert result.exit_code == 2 and "error [CONFIG]: a Redis URL is configured" in result.output

    monkeypatch.setenv("DAGQ_REDIS_URL", "redis://:secret@127.0.0.1:1/0")
    result = runner.invoke(redis_group, ["status"])
    assert result.exit_code == 1
    assert "connection refused" in result.output and "secret" not in result.output
