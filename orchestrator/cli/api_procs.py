"""``dagq api --processes N``: more API processes sharing one port.

One API process is CPU-bound at a few hundred run starts per second; the API is
stateless between requests (sessions are signed tokens, rate limits and runs live in
Redis), so more processes serve more.  The first process binds the port with
``SO_REUSEPORT`` (the kernel picks one when ``--port 0``), then starts N-1 copies of
itself bound to the same port; the kernel spreads new connections over them.  It prints
the URL once all of them listen, passes SIGTERM/SIGINT on and waits for them.  A copy
that dies takes the whole group down (exit 1), for the supervisor to restart; a copy
whose parent died (kill -9) stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence

from orchestrator.errors import DagqError

log = logging.getLogger("dagq.api")

LISTENING = "dagq api listening on "
_READY_S = 60.0


def default_processes() -> int:
    """One per core, or 1 where the port cannot be shared."""
    return (os.cpu_count() or 1) if can_share_port() else 1


def can_share_port() -> bool:
    """Whether this system spreads one port's connections over processes (Linux)."""
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


class Copies:
    """The N-1 copies of an API process, started on its (now known) port."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.procs: list[asyncio.subprocess.Process] = []
        self.died = asyncio.Event()

    async def start(self, count: int, port: int) -> None:
        """Start ``count`` copies on ``port``; return once each one listens."""
        for _ in range(count):
            argv = [*self.argv, "--port", str(port), "--processes", "1"]
            argv += ["--copy-of", str(os.getpid())]
            # A session of their own: a terminal's Ctrl-C reaches the first process only,
            # which passes it on once (a second signal would make a copy exit at once).
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdout=asyncio.subprocess.PIPE,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
            self.procs.append(proc)
        for proc in self.procs:
            assert proc.stdout is not None
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), _READY_S)
            except TimeoutError:
                line = b""
            if not line.decode().startswith(LISTENING):
                raise DagqError(
                    f"an API process (pid {proc.pid}) did not start: see its error above"
                )
        for proc in self.procs:
            asyncio.get_running_loop().create_task(self._watch(proc))

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if not self.died.is_set():
            log.error("API process %d exited with status %s: stopping the others", proc.pid, code)
            self.died.set()

    async def stop(self, timeout_s: float) -> None:
        """SIGTERM the copies and wait (SIGKILL after ``timeout_s``)."""
        self.died.set()  # an exit from now on is expected
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


async def stop_when_orphaned(parent: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once ``parent`` is no longer this process's parent (it died)."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("the first API process (%d) is gone: stopping", parent)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
