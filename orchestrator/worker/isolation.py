"""Handlers in child processes: a pool of forked children, each attempt under hard limits.

A thread cannot be killed and shares the worker's memory: a sync handler that overruns its
timeout runs on, and one that allocates without bound takes every other job down with the
worker.  An *isolated* handler (``@handler("resize", isolation="process")``, or every
handler of ``dagq worker --isolation process``) runs in a child process instead:

- **Reused children.** A child is forked once and then runs attempt after attempt over a
  socket pair (a pickle each way); it is retired after ``max_jobs_per_child`` attempts, or
  at once after it exceeded a limit (its heap may be left fragmented).  Forking per job
  costs milliseconds; ``dagq bench isolation`` measures both.
- **Hard limits, by the kernel.** Before each attempt the child sets its own soft rlimits:
  ``RLIMIT_DATA`` (heap and private mappings) at what it uses now plus the attempt's memory
  (``resources.memory``, else ``--max-memory-per-job``), ``RLIMIT_CPU`` at its CPU time so
  far plus the attempt's timeout, ``RLIMIT_NOFILE`` at ``--max-open-files``; and lifts them
  again after.  An allocation past the memory limit raises ``MemoryError`` in the handler;
  the CPU limit ends the child with ``SIGXCPU``.  cgroups v2 memory and CPU controllers are
  not used: where a worker may delegate them, a child could be placed in its own group
  (see docs/security.md), but rlimits work for an unprivileged process everywhere.
- **Wall-clock timeout.** When the attempt's timeout cancels the call, the child gets
  SIGTERM, then SIGKILL after ``kill_grace_s``, and is reaped; a fresh child replaces it.
- **Nothing leaks in.** The child closes every socket it inherited (the worker's Redis
  connections, the other children's pipes, a listening socket of ``dagq up``) before it
  runs anything, so a handler cannot talk to Redis or the API as the worker.

The attempt's result, or an error that names the limit (``memory limit 256 MiB
exceeded``, ``CPU limit 6s exceeded``), comes back as an :class:`IsolatedFailure`; what the
handler logged and printed comes back with it, into the attempt's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import logging
import math
import os
import pickle
import resource
import signal
import socket
import stat
import struct
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, cast

from orchestrator.errors import ConfigError
from orchestrator.logs import after_fork_in_child
from orchestrator.sizes import format_bytes
from orchestrator.worker.capture import AttemptLog, capturing, current
from orchestrator.worker.registry import HandlerContext, HandlerEntry, Isolation, Registry

log = logging.getLogger("dagq.worker")

_HEADER = struct.Struct(">I")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class IsolationOptions:
    """How a worker isolates handlers (``dagq worker --isolation ...``)."""

    mode: Isolation = "thread"
    """``process``: every handler in a child; ``thread``: only ``isolation="process"`` ones."""
    max_memory_per_job: int | None = None
    """The memory limit of an isolated attempt whose task declares no ``resources.memory``."""
    max_jobs_per_child: int = 100
    """Attempts a child runs before it is replaced."""
    max_open_files: int | None = 1024
    """``RLIMIT_NOFILE`` of an isolated attempt."""
    kill_grace_s: float = 2.0
    """Between SIGTERM and SIGKILL of a child whose attempt timed out."""

    def __post_init__(self) -> None:
        if self.mode not in ("thread", "process"):
            raise ConfigError(f"isolation must be thread or process, got {self.mode!r}")
        if self.max_jobs_per_child < 1:
            raise ConfigError("max jobs per child must be at least 1")
        if self.max_memory_per_job is not None and self.max_memory_per_job < 1024**2:
            raise ConfigError("the memory limit per job must be at least 1 MiB")
        if self.max_open_files is not None and self.max_open_files < 16:
            raise ConfigError("the open files limit must be at least 16")

    def isolates(self, entry: HandlerEntry) -> bool:
        """Whether ``entry`` runs in a child process on this worker."""
        return entry.isolation == "process" or (entry.isolation is None and self.mode == "process")


@dataclass(frozen=True, slots=True)
class Limits:
    """One isolated attempt's hard limits (None: not limited)."""

    memory: int | None = None
    cpu_seconds: int | None = None
    open_files: int | None = None

    @classmethod
    def of(cls, options: IsolationOptions, memory: int | None, timeout_s: float) -> Limits:
        """The limits of an attempt: its memory request (else the worker's default), CPU
        seconds up to its timeout (a net behind the wall-clock kill, for busy threads)."""
        cpu = math.ceil(timeout_s) + 1 if timeout_s > 0 else None
        return cls(memory or options.max_memory_per_job, cpu, options.max_open_files)


class IsolatedFailure(Exception):
    """An isolated attempt failed; the message is what its node records."""

    def __init__(self, message: str, *, limit: bool = False) -> None:
        super().__init__(message)
        self.limit = limit
        """Whether a hard limit ended it."""


# -- the child ----------------------------------------------------------------------------
def _close_inherited_sockets(keep: int) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd == keep or fd < 3:
            continue
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _vm_data() -> int:
    """Bytes of this process's data segment and private mappings (what RLIMIT_DATA counts)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def _set_soft(kind: int, soft: int) -> Callable[[], None]:
    old_soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(kind, (soft, hard))
    return lambda: resource.setrlimit(kind, (old_soft, hard))


def _apply(limits: Limits) -> list[Callable[[], None]]:
    undo: list[Callable[[], None]] = []
    if limits.memory:
        undo.append(_set_soft(resource.RLIMIT_DATA, _vm_data() + limits.memory))
    if limits.cpu_seconds:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        used = math.ceil(usage.ru_utime + usage.ru_stime)
        undo.append(_set_soft(resource.RLIMIT_CPU, used + limits.cpu_seconds))
    if limits.open_files:
        undo.append(_set_soft(resource.RLIMIT_NOFILE, limits.open_files))
    return undo


def _call(entry: HandlerEntry, data: dict[str, Any], ctx: HandlerContext) -> Any:
    result = entry.fn(data, ctx)
    if inspect.isawaitable(result):
        return asyncio.run(_awaited(result))
    return result


async def _awaited(result: Awaitable[Any]) -> Any:
    return await result


class _StreamedLog(AttemptLog):
    """A child's attempt log: each line goes to the worker at once, so the lines of an
    attempt killed at its timeout are not lost with its process."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        super().__init__()
        self._send = send

    def add(self, level: str, text: str) -> None:
        """Redact and cut the line as any attempt log does, then send it."""
        super().add(level, text)
        with self._lock:
            line = self.lines.pop() if self.lines else None
            self._bytes = 0
        if line is not None:
            self._send(pickle.dumps(("line", line)))


def _attempt(
    registry: Registry, request: bytes, send: Callable[[bytes], None]
) -> tuple[bytes, bool]:
    """Run one attempt; its pickled final reply and whether this child must be retired."""
    name, data, ctx, limits = pickle.loads(request)
    entry = registry.get(name)
    attempt_log = _StreamedLog(send)
    retire = False
    reply: tuple[str, Any]
    if entry is None:
        reply = ("error", f"no handler named {name!r} in the worker's child process")
    else:
        undo = _apply(limits)
        try:
            with capturing(attempt_log):
                reply = ("ok", _call(entry, data, ctx))
        except MemoryError:
            retire = True
            size = format_bytes(limits.memory) if limits.memory else "the memory"
            reply = ("limit", f"memory limit {size} exceeded")
        except OSError as exc:
            if exc.errno == errno.EMFILE and limits.open_files:
                reply = ("limit", f"open files limit {limits.open_files} exceeded")
            else:
                reply = ("error", str(exc) or type(exc).__name__)
        except (Exception, SystemExit) as exc:
            reply = ("error", str(exc) or type(exc).__name__)
        finally:
            for restore in reversed(undo):
                restore()
    attempt_log.close()  # a last line printed without its newline
    try:
        return pickle.dumps(reply), retire
    except Exception as exc:  # an output pickle cannot carry cannot be JSON either
        why = f"handler {name!r} returned output that is not JSON-serialisable: {exc}"
        return pickle.dumps(("error", why)), retire


def _child_main(sock: socket.socket, registry: Registry) -> NoReturn:
    """The loop of a child: attempt after attempt until the worker closes the socket."""
    code = 0
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle
        asyncio.events._set_running_loop(None)  # forked inside the worker's loop
        after_fork_in_child()
        _close_inherited_sockets(sock.fileno())
        sock.setblocking(True)
        lock = threading.Lock()  # a handler's threads may log at once

        def send(frame: bytes) -> None:
            with lock:
                sock.sendall(_HEADER.pack(len(frame)) + frame)

        while True:
            header = _recv_exactly(sock, _HEADER.size)
            if header is None:
                break
            request = _recv_exactly(sock, _HEADER.unpack(header)[0])
            if request is None:
                break
            reply, retire = _attempt(registry, request, send)
            send(reply)
            if retire:
                break
    except BaseException:  # nothing must climb back into the worker's code
        code = 70
    os._exit(code)


# -- the worker's side ----------------------------------------------------------------------
class _Child:
    def __init__(
        self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.pid = pid
        self.reader = reader
        self.writer = writer
        self.jobs = 0

    def fileno(self) -> int:
        sock = self.writer.get_extra_info("socket")
        return int(sock.fileno()) if sock is not None else -1


def _exited(pid: int) -> int | None:
    """The wait status of child ``pid`` if it has ended (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # reaped already
        return 0
    return status if done else None


def _death(status: int, limits: Limits) -> str:
    """What a child's wait status says about the attempt it was running."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU and limits.cpu_seconds:
            return f"CPU limit {limits.cpu_seconds}s exceeded"
        name = signal.Signals(sig).name if sig in signal.Signals.__members__.values() else sig
        if sig == signal.SIGKILL:
            return "the handler's process was killed (SIGKILL: out of memory?)"
        return f"the handler's process died of {name}"
    return f"the handler's process exited with code {os.waitstatus_to_exitcode(status)}"


class ProcessPool:
    """Up to ``size`` reused child processes running isolated attempts."""

    def __init__(self, registry: Registry, options: IsolationOptions, *, size: int) -> None:
        self.registry = registry
        self.options = options
        self.size = size
        self._idle: list[_Child] = []
        self._children: dict[int, _Child] = {}
        self._busy: set[int] = set()
        self._slots = asyncio.Semaphore(size)
        self._stopping: set[asyncio.Task[None]] = set()
        self.spawned = 0
        self.killed = 0

    # -- children ------------------------------------------------------------------------
    def pids(self) -> list[int]:
        """The live children's process ids."""
        return sorted(self._children)

    async def _spawn(self) -> _Child:
        parent, child = socket.socketpair()
        with warnings.catch_warnings():
            # Python 3.12 warns about fork in a threaded process: the child only runs
            # handler code and closes what it inherited (see the module doc).
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (coverage cannot follow a fork)
            parent.close()
            _child_main(child, self.registry)
        child.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent)
        spawned = _Child(pid, reader, writer)
        self._children[pid] = spawned
        self.spawned += 1
        return spawned

    async def _take(self) -> _Child:
        while self._idle:
            child = self._idle.pop()
            if child.pid in self._children:
                return child
        return await self._spawn()

    def _give_back(self, child: _Child, *, retire: bool) -> None:
        if retire or child.jobs >= self.options.max_jobs_per_child:
            self._stop(child, kill=False)
        else:
            self._idle.append(child)

    def _stop(self, child: _Child, *, kill: bool) -> None:
        """Retire ``child`` in the background: EOF (or SIGTERM then SIGKILL), then reap."""
        self._children.pop(child.pid, None)
        child.writer.close()
        task = asyncio.ensure_future(self._end(child.pid, kill))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _end(self, pid: int, kill: bool) -> None:
        if kill:
            self.killed += 1
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.options.kill_grace_s
        killed = False
        while _exited(pid) is None:
            if not killed and time.monotonic() >= deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed = True
            await asyncio.sleep(0.01)

    async def _reap(self, pid: int) -> int:
        """The wait status of a child whose socket closed (it is exiting)."""
        self._children.pop(pid, None)
        deadline = time.monotonic() + self.options.kill_grace_s
        while (status := _exited(pid)) is None:
            if time.monotonic() >= deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.01)
        return status

    # -- attempts ------------------------------------------------------------------------
    async def run(
        self, entry: HandlerEntry, data: dict[str, Any], ctx: HandlerContext, limits: Limits
    ) -> Any:
        """Run ``entry`` in a child; its result, or :class:`IsolatedFailure`.

        Cancelled (the attempt's timeout, a shutdown), the child is killed.
        """
        request = pickle.dumps((entry.name, data, ctx, limits))
        async with self._slots:
            child = await self._take()
            self._busy.add(child.pid)
            try:
                child.writer.write(_HEADER.pack(len(request)) + request)
                await child.writer.drain()
                kind, value = await self._reply(child)
            except (asyncio.IncompleteReadError, ConnectionError):
                child.writer.close()
                status = await self._reap(child.pid)
                raise IsolatedFailure(_death(status, limits), limit=True) from None
            except BaseException:
                self._stop(child, kill=True)
                raise
            finally:
                self._busy.discard(child.pid)
        child.jobs += 1
        self._give_back(child, retire=kind == "limit")
        if kind == "ok":
            return value
        raise IsolatedFailure(cast(str, value), limit=kind == "limit")

    @staticmethod
    async def _reply(child: _Child) -> tuple[str, Any]:
        """Read the child's frames: its log lines (into the attempt's log), then the reply."""
        sink = current()
        while True:
            header = await child.reader.readexactly(_HEADER.size)
            frame = pickle.loads(await child.reader.readexactly(_HEADER.unpack(header)[0]))
            if frame[0] != "line":
                return frame[0], frame[1]
            if sink is not None:
                sink.absorb([frame[1]], 0)

    # -- usage and shutdown --------------------------------------------------------------
    def usage(self) -> tuple[int, float]:
        """Resident memory (bytes) and CPU time (seconds) of the live children."""
        rss, cpu = 0, 0.0
        for pid in list(self._children):
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu += (int(fields[11]) + int(fields[12])) / _TICKS
            rss += int(fields[21]) * _PAGE
        return rss, cpu

    def to_dict(self) -> dict[str, Any]:
        """The children's usage and the isolation mode, as the worker announces them."""
        rss, cpu = self.usage()
        usage = {"rss": rss, "cpu": round(cpu, 3), "children": len(self._children)}
        return {"usage": usage, "isolation": self.options.mode}

    def busy(self) -> int:
        """Children running an attempt now."""
        return len(self._busy)

    async def close(self) -> None:
        """Retire every child and wait until all are reaped."""
        for child in list(self._children.values()):
            self._stop(child, kill=child.pid in self._busy)
        self._idle.clear()
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
