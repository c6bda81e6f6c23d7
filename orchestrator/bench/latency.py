"""``dagq bench latency``: API latency under load, and the node hop.

A ``dagq api`` subprocess (auth and RBAC on, the orchestrator loop inside) and
``dagq worker`` subprocesses run on a fresh Redis.  ``clients`` concurrent clients
(:class:`~orchestrator.client.DagqClient`, one HTTP session each) then issue, phase
after phase, ``requests`` calls of: create workflow, start run (the diamond: the
workers run them meanwhile, which is the load), status query (``GET /runs/{id}``)
on those runs.  Each call's latency is measured in the client.

The node hop is the time from a predecessor's completion to its successor's start.
The runs' events carry the workers' clocks in whole milliseconds, too coarse for a hop of
about one; so the diamond's tasks run the ``stamp`` handler, whose output holds the
wall clock in microseconds when it ran, and a hop is a node's stamp minus its latest
predecessor's (a no-op handler: its start and its completion are the same instant).

The worker runs ``--no-orchestrator``: the API process's orchestrator applies every
result.  (With the worker applying its own, ``dagq worker``'s default, one process both
runs the handlers and applies their results; on the shared 2 cores that made the hop
several times longer: see docs/benchmarks.md.)
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from orchestrator.bench import workloads
from orchestrator.bench.procs import (
    DAGQ_CLI,
    BenchError,
    Procs,
    bench_redis,
    bench_settings_overrides,
    dagq_env,
    machine,
    summary_ms,
)
from orchestrator.client import DagqClient
from orchestrator.engine.state import RunState
from orchestrator.errors import DagqError
from orchestrator.runtime.stack import ensure_local_admin
from orchestrator.settings import load_settings
from orchestrator.store.connection import connect
from orchestrator.store.runs import RunStore
from orchestrator.vocab import EventType

_URL = re.compile(r"listening on (http://\S+)")


async def _phase(
    clients: Sequence[DagqClient], requests: int, call: Callable[[DagqClient, int], Awaitable[Any]]
) -> tuple[list[float], list[Any]]:
    """``requests`` calls spread over the clients; latencies (ms) and results in call order."""
    latencies: list[float] = [0.0] * requests
    results: list[Any] = [None] * requests
    counter = iter(range(requests))

    async def client_loop(client: DagqClient) -> None:
        for i in counter:
            t0 = time.perf_counter()
            results[i] = await call(client, i)
            latencies[i] = (time.perf_counter() - t0) * 1000

    await asyncio.gather(*(client_loop(c) for c in clients))
    return latencies, results


def node_hops(events: Sequence[tuple[str, str | None, float]], edges: Sequence[Any]) -> list[float]:
    """Hops (ms) of one run: each node's start minus its latest predecessor's completion.

    ``events`` are ``(type, node, at_ms)``; ``edges`` the spec's ``{source, target}``.
    """
    preds: dict[str, list[str]] = {}
    for edge in edges:
        preds.setdefault(edge["target"], []).append(edge["source"])
    done: dict[str, float] = {}
    started: dict[str, float] = {}
    for kind, node, at in events:
        if node is None:
            continue
        if kind == EventType.NODE_COMPLETED:
            done.setdefault(node, at)
        elif kind == EventType.NODE_STARTED:
            started.setdefault(node, at)
    hops = []
    for node, at in started.items():
        before = [done[p] for p in preds.get(node, []) if p in done]
        if before and len(before) == len(preds[node]):
            hops.append(float(at - max(before)))
    return hops


def stamped(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every task running the ``stamp`` handler (see the module docstring)."""
    nodes = [{**n, "handler": "stamp"} if n.get("type") == "task" else n for n in spec["nodes"]]
    return {**spec, "nodes": nodes}


def stamp_events(state: RunState) -> list[tuple[str, str | None, float]]:
    """A completion and a start at each stamped node's time (ms, microsecond resolution)."""
    out: list[tuple[str, str | None, float]] = []
    for node_id, node in state.nodes.items():
        us = (node.output or {}).get("us")
        if isinstance(us, int):
            out.append((EventType.NODE_COMPLETED, node_id, us / 1000))
            out.append((EventType.NODE_STARTED, node_id, us / 1000))
    return out


async def _measure(
    url: str, key: str, redis_url: str, workdir: Path, clients_n: int, requests: int
) -> dict[str, Any]:
    clients = [DagqClient(url, api_key=key, timeout_s=60) for _ in range(clients_n)]
    try:
        spec = stamped(workloads.diamond())
        await clients[0].create_workflow(spec)

        def create(c: DagqClient, i: int) -> Awaitable[Any]:
            return c.create_workflow({**spec, "id": f"bench-lat-{i}"})

        async def start(c: DagqClient, i: int) -> str:
            run = await c.start_run(workloads.DIAMOND_ID)
            return str(run.runId)

        # Warm-up: connections, caches, the first run's code paths.
        await _phase(clients, clients_n * 2, start)
        create_ms, _ = await _phase(clients, requests, create)
        start_ms, run_ids = await _phase(clients, requests, start)

        def status(c: DagqClient, i: int) -> Awaitable[Any]:
            return c.get_run(run_ids[i])

        status_ms, _ = await _phase(clients, requests, status)
        hops = await _hops(redis_url, workdir, run_ids, spec["edges"])
    finally:
        for c in clients:
            await c.aclose()
    samples = {"create_workflow": create_ms, "start_run": start_ms, "status_query": status_ms}
    return {"samples": samples, "hops": hops}


async def _hops(
    redis_url: str, workdir: Path, run_ids: Sequence[str], edges: Sequence[Any]
) -> list[float]:
    """Wait for the runs to end, then collect every node hop of their event streams."""
    settings = load_settings(**bench_settings_overrides(redis_url, workdir))
    conn = await connect(settings)
    try:
        store = RunStore(conn.redis, conn.keys)
        deadline = time.monotonic() + 120
        while await store.active_count() > 0:
            if time.monotonic() > deadline:
                raise BenchError("the latency runs did not finish within 120 s")
            await asyncio.sleep(0.05)
        hops: list[float] = []
        for run_id in run_ids:
            state, _ = await store.load(run_id)
            hops += node_hops(stamp_events(state), edges)
        return hops
    finally:
        await conn.aclose()


def run(
    *,
    clients: int = 16,
    requests: int = 2000,
    workers: int = 1,
    concurrency: int = 64,
    api_processes: int | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Start the API (``api_processes`` processes; default one per core) and workers, load
    them, return p50/p99 per operation and the hop."""
    if clients < 1 or requests < clients:
        raise BenchError("latency needs at least one client and as many requests as clients")
    with bench_redis() as server:
        workdir = server.workdir
        policies = workdir / "policies"
        key, _ = ensure_local_admin(policies)
        env = dagq_env(server.url, workdir)
        with Procs(workdir) as procs:
            api_argv = [*DAGQ_CLI, "api", "--port", "0", "--policies", str(policies)]
            if api_processes is not None:
                api_argv += ["--processes", str(api_processes)]
            procs.start("dagq-api", api_argv, env)
            for i in range(workers):
                argv = [
                    *DAGQ_CLI,
                    "worker",
                    "-H",
                    "orchestrator.bench.handlers",
                    "--no-orchestrator",
                ]
                procs.start(f"dagq-worker-{i}", [*argv, "-c", str(concurrency)], env)
            match = _URL.search(procs.wait_for_log("dagq-api", "listening on"))
            if match is None:
                raise BenchError("dagq api did not print its URL")
            for i in range(workers):
                procs.wait_for_log(f"dagq-worker-{i}", " ready: ")
            progress(f"api at {match.group(1)}: {clients} clients x {requests} requests")
            try:
                measured = asyncio.run(
                    _measure(match.group(1), key, server.url, workdir, clients, requests)
                )
            except DagqError as exc:
                raise BenchError(f"the API refused the benchmark: {exc.message}") from None
        out: dict[str, Any] = {
            op: summary_ms(samples) for op, samples in measured["samples"].items()
        }
        out["node_hop"] = summary_ms(measured["hops"])
        out["config"] = {
            "clients": clients,
            "requests": requests,
            "workers": workers,
            "worker_concurrency": concurrency,
            "api": "dagq api (auth + RBAC + audit on, orchestrator inside)",
            # dagq api's default: one per core (SO_REUSEPORT on Linux).
            "api_processes": api_processes or os.cpu_count() or 1,
        }
        out["machine"] = machine(server.version)
        out["samples_ms"] = {**measured["samples"], "node_hop": measured["hops"]}
        return out


def dumps_without_samples(report: dict[str, Any]) -> bytes:
    """The report as JSON, raw samples left out (they are for the plot)."""
    return orjson.dumps({k: v for k, v in report.items() if k != "samples_ms"})
