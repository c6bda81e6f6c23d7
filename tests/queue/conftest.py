"""Fixtures of the queue tests: settings with tiny timeouts and a JobQueue on the test Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from orchestrator.keys import Keys
from orchestrator.settings import Settings, load_settings
from orchestrator.store.queue import JobQueue


@pytest.fixture
def settings(redis_url: str, key_prefix: str) -> Settings:
    """Settings for the test Redis with a short visibility timeout and few deliveries."""
    return load_settings(
        redis_url=redis_url,
        workflow={"storage": {"prefix": key_prefix}},
        queue={
            "visibility_timeout": 0.2,
            "max_deliveries": 3,
            "heartbeat_interval": 0.05,
            "worker_ttl": 5,
        },
    )


@pytest.fixture
def queue(redis_client: aioredis.Redis, keys: Keys, settings: Settings) -> JobQueue:
    """A job queue under the test's key prefix."""
    return JobQueue(redis_client, keys, settings)
