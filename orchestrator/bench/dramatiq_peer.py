"""Dramatiq's twin of the diamond, imported by ``dramatiq`` worker processes.

Dramatiq has no DAG: its documented tools are pipelines and groups with completion
callbacks (the ``GroupCallbacks`` middleware).  A pipeline cannot fan out into a group,
so the first task starts the group of four branches itself, and the group's completion
callback is the first message of the pipeline ``join -> c1 -> c2 -> c3 -> c4`` that the
submitter built.  The last task stores its end time in the results backend, which is
how the bench reads when a DAG finished.  Redis is the broker, the results backend and
the group barrier's backend; the URL comes from ``DAGQ_BENCH_REDIS_URL``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as RateLimiterBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

URL_ENV = "DAGQ_BENCH_REDIS_URL"
QUEUE = "dagq-bench"
FIRST, NOOP, LAST = "bench_first", "bench_noop", "bench_last"


def make_broker(url: str) -> RedisBroker:
    """The broker the workers use: Redis, with results and group callbacks."""
    broker = RedisBroker(url=url)
    broker.add_middleware(Results(backend=RedisBackend(url=url)))
    broker.add_middleware(GroupCallbacks(RateLimiterBackend(url=url)))
    return broker


broker = make_broker(os.environ.get(URL_ENV, "redis://127.0.0.1:6379/0"))
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name=FIRST, queue_name=QUEUE)
def bench_first(callback: dict[str, Any]) -> None:
    """Task ``a``: no work, then the four branches with the join as their callback."""
    branches = dramatiq.group([bench_noop.message() for _ in range(4)])
    branches.add_completion_callback(dramatiq.Message(**callback))
    branches.run()


@dramatiq.actor(actor_name=NOOP, queue_name=QUEUE)
def bench_noop(*_args: Any) -> None:
    """A no-op task (a branch, the join, c1..c3)."""


@dramatiq.actor(actor_name=LAST, queue_name=QUEUE)
def bench_last(*_args: Any) -> int:
    """The chain's last task: its end time (ms) is its stored result."""
    return int(time.time() * 1000)
