"""One local stack per data dir: the lock ``dagq up`` and ``dagq tui``'s in-process stack hold.

``<data dir>/stack.lock`` is ``flock``-ed for the life of the stack and holds what a second
one needs to name it: the command, its pid and, once they are bound, its addresses.  The
kernel drops an ``flock`` when its process ends however it ends (``kill -9`` included), so a
lock whose process is gone is free and simply taken over: no pid guessing, no stale files to
clear.  The descriptor is not inherited by the processes the stack starts (Redis, the web
apps), so they never keep a dead stack's lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Any

import orjson

from orchestrator.errors import Conflict, Unavailable

LOCK_FILE = "stack.lock"


class DataDirInUse(Conflict):
    """Another local stack runs on this data dir (``details``: its pid and addresses)."""

    code = "DATA_DIR_IN_USE"


class DataDirLock:
    """The data dir's stack lock: :meth:`acquire` or refuse, :meth:`publish`, :meth:`release`."""

    def __init__(self, data_dir: Path, command: str) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self.command = command
        self._fd: int | None = None
        self._record: dict[str, Any] = {}

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock at once, or raise :class:`DataDirInUse` naming its holder."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise Unavailable(f"cannot create the data dir lock {self.path}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise self._in_use(holder) from None
        self._fd = fd
        self._record = {"command": self.command, "pid": os.getpid(), "since_ms": _now_ms()}
        self._write()

    def publish(self, **addresses: str) -> None:
        """Add addresses (``api_url``, ``web_url``) for a second stack's refusal to name."""
        if self._fd is None:
            return
        self._record.update(addresses)
        self._write()

    def release(self) -> None:
        """Empty the record and drop the lock (the file stays: unlinking it would race)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    def _write(self) -> None:
        assert self._fd is not None
        data = orjson.dumps(self._record)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def _in_use(self, holder: dict[str, Any]) -> DataDirInUse:
        command = holder.get("command") or "another dagq process"
        pid = holder.get("pid")
        who = f"{command} (pid {pid})" if isinstance(pid, int) else str(command)
        where = [f"web {holder['web_url']}"] if isinstance(holder.get("web_url"), str) else []
        if isinstance(holder.get("api_url"), str):
            where.append(f"API {holder['api_url']}")
        at = ", ".join(where) if where else "still starting"
        return DataDirInUse(
            f"the data dir {self.data_dir} is in use by {who}, {at}; use that one "
            "(the CLI and `dagq tui` find it), stop it first, or give this one another "
            "data dir (DAGQ_DATA_DIR)",
            details={
                k: v for k, v in holder.items() if k in ("command", "pid", "api_url", "web_url")
            },
        )


def running_stack(data_dir: Path) -> dict[str, Any] | None:
    """The record of the stack that holds ``data_dir``'s lock (``command``, ``pid``,
    ``api_url``, ``web_url``), or None when no stack runs there."""
    path = Path(data_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)  # free: nobody runs there
        return None
    finally:
        os.close(fd)


def _read(fd: int) -> dict[str, Any]:
    try:
        data = orjson.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _now_ms() -> int:
    return int(time.time() * 1000)
