"""The peers dagq is measured against, running the same 10-task diamond.

* Celery: ``chain(a, group(b1..b4), join, c1..c4)`` (Celery turns the group followed by
  a task into a chord), Redis as broker and result backend, ``celery worker`` processes.
* RQ: jobs enqueued with ``depends_on`` (the join depends on all four branches),
  ``rq worker`` processes.

The worker processes import this module (``celery -A orchestrator.bench.peers``,
``rq worker`` resolving ``orchestrator.bench.peers.rq_noop``); the Redis URL reaches
them through ``DAGQ_BENCH_REDIS_URL``.  Celery and RQ are optional (the ``bench``
extra): importing this module without them raises :class:`BenchError` with the fix.
"""

from __future__ import annotations

import os
from typing import Any

from orchestrator.bench.procs import BenchError

try:
    from celery import Celery, chain, group
except ImportError:  # pragma: no cover - depends on the installed extras
    raise BenchError(
        "the peers need Celery and RQ: pip install 'dagq[bench]'", code="BENCH_PEERS"
    ) from None

URL_ENV = "DAGQ_BENCH_REDIS_URL"
CELERY_QUEUE = "dagq-bench"
RQ_QUEUE = "dagq-bench"

NOOP = "dagq_bench.noop"


def celery_noop() -> dict[str, bool]:
    """Do nothing and succeed (Celery's twin of the ``noop`` handler)."""
    return {"ok": True}


def make_celery(url: str | None) -> Any:
    """A Celery app on ``url`` (broker and result backend) with the no-op task.

    A new app per benchmark run: an app caches its broker connections and
    per-thread result backends, which would still point at the previous run's Redis.
    """
    app = Celery("dagq_bench")
    if url:
        app.conf.update(
            broker_url=url,
            result_backend=url,
            task_default_queue=CELERY_QUEUE,
            # JSON and no pickle: what a production deployment runs.
            task_serializer="json",
            result_serializer="json",
            accept_content=["json"],
            broker_connection_retry_on_startup=True,
            worker_hijack_root_logger=False,
            result_expires=3600,
        )
    app.task(name=NOOP)(celery_noop)
    return app


# What ``celery -A orchestrator.bench.peers:celery_app worker`` loads.
celery_app = make_celery(os.environ.get(URL_ENV))


def celery_diamond(app: Any) -> Any:
    """The diamond as a Celery canvas (immutable signatures: no results passed on)."""

    def sig() -> Any:
        return app.signature(NOOP, immutable=True)

    return chain(sig(), group([sig() for _ in range(4)]), sig(), sig(), sig(), sig(), sig())


def rq_noop() -> dict[str, bool]:
    """Do nothing and succeed (RQ's twin of the ``noop`` handler)."""
    return {"ok": True}


def rq_diamond(queue: Any) -> str:
    """Enqueue the diamond on an RQ queue with ``depends_on``; the last job's id."""
    first = queue.enqueue(rq_noop)
    branches = [queue.enqueue(rq_noop, depends_on=first) for _ in range(4)]
    last = queue.enqueue(rq_noop, depends_on=branches)
    for _ in range(4):
        last = queue.enqueue(rq_noop, depends_on=last)
    return str(last.id)
