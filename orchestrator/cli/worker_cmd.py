"""``dagq worker`` (handlers for the job queue) and ``dagq orchestrator``, until SIGTERM.

The orchestrator loop runs inside ``dagq worker`` too (unless ``--no-orchestrator``):
it is started through :func:`serve_worker`'s ``extra_tasks``, which get the same
connection and stop event as the worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import click
from redis.exceptions import RedisError

from orchestrator.cli.exits import Exit, fail
from orchestrator.errors import DagqError, Unavailable
from orchestrator.logs import setup_logging
from orchestrator.service.orchestrator import Orchestrator
from orchestrator.service.runs import RunService
from orchestrator.settings import Settings, load_settings
from orchestrator.sizes import SizeError, parse_bytes
from orchestrator.store.connection import Connection, connect
from orchestrator.worker.capacity import Capacity
from orchestrator.worker.isolation import IsolationOptions
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker

log = logging.getLogger("dagq.worker")

ExtraTask = Callable[[Connection, asyncio.Event], Coroutine[Any, Any, None]]
"""A coroutine function run beside the worker until the stop event is set."""


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop`` (graceful); a second signal exits at once."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("%s: finishing in-flight jobs, then stopping", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


async def serve_worker(
    settings: Settings,
    registry: Registry,
    concurrency: int,
    worker_id: str | None,
    *,
    extra_tasks: Sequence[ExtraTask] = (),
    grace_s: float = 10.0,
    stop: asyncio.Event | None = None,
    isolation: IsolationOptions | None = None,
    capacity: Capacity | None = None,
    with_orchestrator: bool = False,
) -> Worker:
    """Connect, run a :class:`Worker` (and ``extra_tasks``) until stopped, disconnect.

    ``with_orchestrator`` runs the orchestrator loop in this process too, and the
    worker applies its own results through it (no hop through the inbox when it can).
    Stops on SIGTERM/SIGINT, or when ``stop`` (if given) is set; an extra task that
    fails stops everything.  Returns the worker (for its counters).
    """
    stop = stop if stop is not None else asyncio.Event()
    install_stop_signals(stop)
    conn = await connect(settings)
    try:
        orchestrator = None
        if with_orchestrator:
            orchestrator = Orchestrator(RunService(conn.redis, conn.keys, conn.settings))
        worker = Worker(
            conn.redis,
            conn.keys,
            settings,
            registry,
            concurrency=concurrency,
            worker_id=worker_id,
            grace_s=grace_s,
            isolation=isolation,
            capacity=capacity,
            applier=orchestrator.apply_results if orchestrator is not None else None,
        )
        log.info(
            "worker %s on %s offering %s",
            worker.worker_id,
            conn.safe_url,
            ", ".join(worker.handlers),
        )
        tasks = [asyncio.create_task(worker.run(stop), name="dagq-worker")]
        tasks += [asyncio.create_task(t(conn, stop)) for t in extra_tasks]
        if orchestrator is not None:
            tasks.append(asyncio.create_task(orchestrator.run(stop), name="dagq-orchestrator"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    stop.set()  # one part failed: let the others stop cleanly
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return worker
    finally:
        await conn.aclose()


async def run_orchestrator(conn: Connection, stop: asyncio.Event) -> None:
    """The orchestrator loop (inbox -> run transitions, timers) until ``stop`` is set."""
    service = RunService(conn.redis, conn.keys, conn.settings)
    await Orchestrator(service).run(stop)


class _Size(click.ParamType[int, Any]):
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return parse_bytes(value)
        except SizeError as exc:
            self.fail(str(exc), param, ctx)


SIZE = _Size()


@click.command()
@click.option(
    "--handlers",
    "-H",
    "handler_specs",
    multiple=True,
    required=True,
    help="Handler file (path/to/handlers.py) or module (mypkg.handlers); repeatable.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 4096),
    default=8,
    show_default=True,
    help="Jobs run at once.",
)
@click.option("--id", "worker_id", help="Worker id (default: host-pid-random).")
@click.option(
    "--orchestrator/--no-orchestrator",
    "with_orchestrator",
    default=True,
    show_default=True,
    help="Also run the orchestrator loop in this process.",
)
@click.option(
    "--grace",
    "grace_s",
    type=click.FloatRange(0, 3600),
    default=10.0,
    show_default=True,
    help="Seconds to let running jobs finish on SIGTERM.",
)
@click.option(
    "--isolation",
    type=click.Choice(["thread", "process"]),
    default="thread",
    show_default=True,
    help="Run every handler in a child process under hard limits (process), or only those "
    "declared with @handler(..., isolation='process') (thread).",
)
@click.option(
    "--max-memory-per-job",
    "max_memory",
    type=SIZE,
    default=None,
    help="Memory limit of an isolated attempt whose task declares no resources.memory "
    "(e.g. 512MiB).",
)
@click.option(
    "--capacity",
    "capacity_text",
    default="",
    help="What this worker offers, e.g. memory=4GiB,cpu=2 (default: the machine's memory "
    "and CPUs). An attempt starts only when its task's resources fit in what is free.",
)
@click.option(
    "--max-jobs-per-child",
    type=click.IntRange(1, 1_000_000),
    default=100,
    show_default=True,
    help="Isolated attempts a child process runs before it is replaced.",
)
@click.option(
    "--max-open-files",
    type=click.IntRange(16, 1_048_576),
    default=1024,
    show_default=True,
    help="Open files limit of an isolated attempt.",
)
def worker(
    handler_specs: tuple[str, ...],
    concurrency: int,
    worker_id: str | None,
    with_orchestrator: bool,
    grace_s: float,
    isolation: str,
    max_memory: int | None,
    capacity_text: str,
    max_jobs_per_child: int,
    max_open_files: int,
) -> None:
    """Run handlers for queued jobs until SIGTERM (in-flight jobs finish or are handed back)."""
    setup_logging("worker")
    try:
        options = IsolationOptions(
            mode="process" if isolation == "process" else "thread",
            max_memory_per_job=max_memory,
            max_jobs_per_child=max_jobs_per_child,
            max_open_files=max_open_files,
        )
        capacity = Capacity.parse(capacity_text)
        settings = load_settings()
        registry = Registry()
        for spec in handler_specs:
            names = registry.load(spec)
            log.info("loaded %d handler(s) from %s: %s", len(names), spec, ", ".join(names))
        done = asyncio.run(
            serve_worker(
                settings,
                registry,
                concurrency,
                worker_id,
                grace_s=grace_s,
                with_orchestrator=with_orchestrator,
                isolation=options,
                capacity=capacity,
            )
        )
    except DagqError as exc:
        fail(exc, code=Exit.USAGE)  # it cannot start
    except (RedisError, OSError) as exc:
        fail(Unavailable(f"Redis failed: {exc}"), code=Exit.FAILED)
    busy = done.busy_threads()
    if busy:
        # Sync handlers past their timeout cannot be stopped; their jobs were handed
        # back, so leave without waiting for the threads (the interpreter would).
        log.warning("%d handler thread(s) still running; exiting without them", busy)
        logging.shutdown()
        os._exit(Exit.OK)
    sys.exit(Exit.OK)


@click.command()
def orchestrate() -> None:
    """Run the orchestrator loop alone: apply results to runs and fire timers, until SIGTERM."""
    setup_logging("orchestrator")

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        conn = await connect(load_settings())
        try:
            log.info("orchestrator on %s", conn.safe_url)
            await run_orchestrator(conn, stop)
        finally:
            await conn.aclose()

    try:
        asyncio.run(main())
    except DagqError as exc:
        fail(exc, code=Exit.USAGE)  # it cannot start
    except (RedisError, OSError) as exc:
        fail(Unavailable(f"Redis failed: {exc}"), code=Exit.FAILED)
