"""DBOS's twin of the diamond: one workflow of ten steps, run by worker processes.

Started as ``python -m orchestrator.bench.dbos_peer`` (one DBOS executor per process,
``DBOS__VMID`` its executor id).  Each process launches DBOS on the system database
named by ``DAGQ_BENCH_DBOS_URL`` and dequeues the bench's queue; the workflow is
``a``, then the four branches at once (``asyncio.gather`` of steps), the join, then
``c1..c4``, and returns its end time (ms), which is how the bench reads when it finished.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from dbos import DBOS, DBOSConfig

URL_ENV = "DAGQ_BENCH_DBOS_URL"
QUEUE = "dagq-bench"
WORKFLOW = "bench_diamond"
CONCURRENCY = 64
POLLING_S = 0.05


@DBOS.step(name="bench_noop")
async def bench_noop() -> None:
    """A no-op step."""


@DBOS.workflow(name=WORKFLOW)
async def bench_diamond() -> int:
    """``a -> b1..b4 -> join -> c1 -> c2 -> c3 -> c4``; the end time in ms."""
    await bench_noop()
    await asyncio.gather(*(bench_noop() for _ in range(4)))
    await bench_noop()
    for _ in range(4):
        await bench_noop()
    return int(time.time() * 1000)


def main() -> None:
    """Launch an executor and serve the queue until SIGTERM."""
    config: DBOSConfig = {
        "name": "dagq-bench",
        "system_database_url": os.environ[URL_ENV],
        "log_level": "WARNING",
    }
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue(QUEUE, worker_concurrency=CONCURRENCY, polling_interval_sec=POLLING_S)
    print("dbos executor ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    DBOS.destroy()
    sys.exit(0)


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
