"""Process identity from ``/proc``: alive (not a zombie), started when, running what.

A pid alone names a process only until it is reused; a pid with its start time names
one process for good, which is what pid files left by a killed process need.
"""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (someone else's counts; a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, but someone else's
    # A zombie answers kill(0) yet is gone for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' without procfs): with the pid,
    it names one process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def is_redis_process(pid: int) -> bool:
    """Whether ``pid`` is a redis-server (guards against a stale pidfile's reused pid)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs: trust the pid, the ping decides
    except OSError:
        return True
    return b"redis-server" in cmdline
