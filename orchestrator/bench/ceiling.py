"""``dagq bench ceiling``: the most node completions per second Redis itself can take.

Each completion is one Lua call of the shape dagq's hot path needs (the run executor's
compare-and-set in :mod:`orchestrator.store.runs`): check the run's version, bump it and
write the completed node's state with its result, enqueue the successor's job on a
queue stream, append an event to the run's stream.  Payloads have the sizes dagq writes
for the diamond's no-op tasks.

The clients are processes that pre-encode their commands (RESP bytes) before the clock
starts and then only write pipelined batches and count the replies (``hiredis``), so
they cost Redis's CPU, not their own: what is measured is Redis.  Each client owns its
runs and sends every run's completions in order (the versions match: no lost
compare-and-set).  The figure is the best over ``clients`` (1, 2, 4... as many as help).

dagq's nodes/s divided by this figure, measured on the same machine, is the fraction of
the machine's Redis ceiling dagq reaches: the number that carries from one machine to
the next.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import hiredis
import redis

from orchestrator.bench.procs import BenchError, BenchRedis, bench_redis, machine

# KEYS: 1 run hash, 2 run's events stream, 3 the successor's queue stream.
# ARGV: 1 expected version, 2 node field, 3 node state + result, 4 job, 5 event.
COMPLETE_LUA = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'v', cur + 1, ARGV[2], ARGV[3])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'd', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'd', ARGV[5])
return cur + 1
"""
NODES_PER_RUN = 10
# The sizes dagq writes for a no-op task of the diamond (node state with its output,
# the successor's job, one event).
_STATE = b'{"s":"completed","a":1,"t":"%s","b":1764582000000,"e":1764582000003,"o":{"ok":true},"w":"bench-0","q":%d}'  # noqa: E501
_JOB = (
    b'{"run":"%s","node":"n%d","token":"%s","attempt":1,"handler":"noop","kind":"task",'
    b'"workflow":"bench-diamond","input":{},"params":{},"timeout":300,"lane":"normal"}'
)
_EVENT = b'{"type":"node_completed","at":1764582000003,"node":"n%d"}'


@dataclass
class CeilingConfig:
    """How many completions, from how many clients, in batches of how many."""

    completions: int = 200_000
    clients: Sequence[int] = (1, 2, 4)
    pipeline: int = 200
    progress: Callable[[str], None] = field(default=lambda _msg: None)


def _resp(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def encode_batches(sha: str, client: int, completions: int, pipeline: int) -> list[bytes]:
    """One client's completions as RESP batches of ``pipeline`` EVALSHA calls each."""
    calls: list[bytes] = []
    runs = -(-completions // NODES_PER_RUN)
    for r in range(runs):
        run = b"c%d-r%d" % (client, r)
        tag = b"{s0}"
        token = hashlib.blake2b(run, digest_size=6).hexdigest().encode()
        for n in range(NODES_PER_RUN):
            if len(calls) == completions:
                break
            calls.append(
                _resp(
                    b"EVALSHA",
                    sha.encode(),
                    b"3",
                    b"%s:run:%s" % (tag, run),
                    b"%s:ev:%s" % (tag, run),
                    b"%s:q:normal:noop" % tag,
                    b"%d" % n,
                    b"n:n%d" % n,
                    _STATE % (token, n),
                    _JOB % (run, n + 1, token),
                    _EVENT % n,
                )
            )
    return [b"".join(calls[i : i + pipeline]) for i in range(0, len(calls), pipeline)]


def exchange(sock: socket.socket, reader: Any, batch: bytes, size: int) -> list[Any]:
    """Send one pipelined batch and read its ``size`` replies."""
    sock.sendall(batch)
    replies: list[Any] = []
    while len(replies) < size:
        reader.feed(sock.recv(1 << 20))
        while len(replies) < size:
            reply = reader.gets()
            if reply is False:
                break
            replies.append(reply)
    return replies


def connect(port: int) -> tuple[socket.socket, Any]:
    """A raw connection to the bench's Redis and a reply parser."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock, hiredis.Reader()


def _client(
    port: int, sha: str, index: int, completions: int, pipeline: int, ready: Any, go: Any, out: Any
) -> None:
    batches = encode_batches(sha, index, completions, pipeline)
    sizes = [min(pipeline, completions - i * pipeline) for i in range(len(batches))]
    sock, reader = connect(port)
    ready.put(index)
    go.wait()
    t0 = time.perf_counter()
    lost = 0
    try:
        for batch, size in zip(batches, sizes, strict=True):
            for reply in exchange(sock, reader, batch, size):
                if isinstance(reply, hiredis.ReplyError):
                    out.put((index, 0.0, 0, str(reply)))
                    return
                lost += reply == -1
        elapsed = time.perf_counter() - t0
        out.put((index, elapsed, completions, f"{lost} lost compare-and-sets" if lost else ""))
    finally:
        sock.close()


def _once(server: BenchRedis, sha: str, clients: int, cfg: CeilingConfig) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    share = max(1, cfg.completions // clients)
    procs = [
        ctx.Process(
            target=_client,
            args=(server.port, sha, i, share, cfg.pipeline, ready, go, out),
            daemon=True,
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=120)
        cpu0 = server.cpu_s()
        t0 = time.perf_counter()
        go.set()
        results = [out.get(timeout=600) for _ in procs]
        wall = time.perf_counter() - t0
        redis_cpu = server.cpu_s() - cpu0
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    errors = [e for _, _, _, e in results if e]
    if errors:
        raise BenchError(f"the ceiling's script failed: {errors[0]}")
    done = sum(n for _, _, n, _ in results)
    return {
        "clients": clients,
        "completions": done,
        "seconds": round(wall, 3),
        "completions_per_s": round(done / wall, 1),
        "redis_cpu_s": round(redis_cpu, 2),
        "redis_cpu_us_per_completion": round(redis_cpu / done * 1e6, 2),
    }


def measure(server: BenchRedis, cfg: CeilingConfig) -> dict[str, Any]:
    """The ceiling on ``server`` (flushed before each client count)."""
    client = redis.Redis.from_url(server.url)
    try:
        rows = []
        for clients in cfg.clients:
            server.flush()
            sha = str(client.script_load(COMPLETE_LUA))
            cfg.progress(f"ceiling: {clients} client(s)...")
            row = _once(server, sha, clients, cfg)
            cfg.progress(f"ceiling: {clients} client(s): {row['completions_per_s']:,.0f}/s")
            rows.append(row)
        server.flush()
    finally:
        client.close()
    best = max(rows, key=lambda r: r["completions_per_s"])
    return {
        "completions_per_s": best["completions_per_s"],
        "best_clients": best["clients"],
        "redis_cpu_us_per_completion": best["redis_cpu_us_per_completion"],
        "by_clients": rows,
        "config": {
            "completions": cfg.completions,
            "pipeline": cfg.pipeline,
            "script": "CAS on the run's version + HSET node state/result + XADD successor "
            "job + XADD event",
        },
    }


def run(cfg: CeilingConfig) -> dict[str, Any]:
    """The ceiling on a fresh Redis, with the machine's description."""
    if not cfg.clients or min(cfg.clients) < 1:
        raise BenchError("clients must be positive numbers")
    with bench_redis() as server:
        report = measure(server, cfg)
        report["machine"] = machine(server.version)
    return report
