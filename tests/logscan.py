"""A pytest plugin: the logs of the whole test session must not hold any secret it created.

Every process of the session logs to files in one folder per pytest process (a worker of
pytest-xdist, or the only process): the in-process log through the same redacting handler the
``dagq`` commands install, and every ``dagq`` process the tests start through
``DAGQ_LOG_DIR`` (inherited from the environment; :func:`orchestrator.logs.setup_logging`
honours it).  Secrets are registered as they are made: the plugin wraps the functions that
create them (``UserStore.add``/``rotate``/``set_password``, ``tokens.mint``,
``tokens.load_or_create_secret``), and tests call :func:`register_secret` for any other
(a Redis password, a secret read back from a process).

At the end of the session each pytest process scans its own folder, for every secret whole
and for any 20-character piece of a long one (a traceback once showed 49 of the 64 characters
of the JWT secret).  A finding fails the run and is reported by file, line and the secret's
label, never by its value.  Under xdist the findings travel to the controller with the
worker's output, and the controller fails the run.  The folder is removed when clean.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator import logs
from orchestrator.security import tokens
from orchestrator.security.users import UserStore

PLUGIN_NAME = "dagq-secret-log-scan"
MIN_SECRET_CHARS = 8
"""Shorter values (a test's "pw") would match by chance; the log patterns still mask them."""
PIECE_CHARS = 20
_WORKER_KEY = "dagq_secret_leaks"
_RUN = re.compile(rf"[A-Za-z0-9_+/=-]{{{PIECE_CHARS},}}")


class SecretScan:
    """The secrets of one pytest process and the folder its processes log to."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.secrets: dict[str, str] = {}
        self.findings: list[str] = []

    def register(self, value: str | None, label: str) -> None:
        """Remember ``value`` (a secret) under ``label`` (what the report calls it)."""
        if value and len(value) >= MIN_SECRET_CHARS:
            self.secrets.setdefault(value, label)

    def scan(self) -> list[str]:
        """One line per secret found in a log file: ``file:line: label``."""
        pieces: dict[str, str] = {}
        for value, label in self.secrets.items():
            if len(value) >= 2 * PIECE_CHARS:
                for i in range(len(value) - PIECE_CHARS + 1):
                    pieces.setdefault(value[i : i + PIECE_CHARS], label)
        found: list[str] = []
        for path in sorted(p for p in self.log_dir.rglob("*") if p.is_file()):
            text = path.read_text("utf-8", errors="replace")
            name = path.relative_to(self.log_dir)
            for value, label in self.secrets.items():
                at = text.find(value)
                if at >= 0:
                    found.append(f"{name}:{text.count(chr(10), 0, at) + 1}: {label}")
            for run in _RUN.finditer(text):
                word = run.group()
                for i in range(len(word) - PIECE_CHARS + 1):
                    owner = pieces.get(word[i : i + PIECE_CHARS])
                    if owner is not None:
                        line = text.count("\n", 0, run.start()) + 1
                        found.append(f"{name}:{line}: part of {owner}")
                        break
        return sorted(set(found))


_scan: list[SecretScan] = []


def register_secret(value: str | None, label: str) -> None:
    """Fail the session if ``value`` ever shows up in a log (no-op without the plugin)."""
    if _scan:
        _scan[0].register(value, label)


def _key_secret(key: str) -> tuple[str, str]:
    # dagq_<8-char id>_<secret>: the id is public (logged on purpose), the rest is not.
    return key[len("dagq_") + 9 :], f"API key dagq_{key[5:13]}_..."


def _wrap(owner: Any, name: str, record: Callable[..., None]) -> None:
    """Replace ``owner.name`` by a function that calls it, then records what it saw."""
    original = getattr(owner, name)
    if getattr(original, "_dagq_scanned", False):
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        record(result, *args, **kwargs)
        return result

    wrapper._dagq_scanned = True  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)


def _watch_secret_makers() -> None:
    def added(result: Any, *args: Any, password: str | None = None, **_: Any) -> None:
        register_secret(*_key_secret(result[1]))
        register_secret(password, "a user's password")

    def rotated(key: str, *args: Any, **_: Any) -> None:
        register_secret(*_key_secret(key))

    def password_set(result: Any, store: Any, name: str, password: str | None = None) -> None:
        register_secret(password, f"password of {name}")

    def minted(token: str, *args: Any, **_: Any) -> None:
        register_secret(token.rsplit(".", 1)[-1], "a bearer token's signature")

    def loaded(secret: str, *args: Any, **_: Any) -> None:
        register_secret(secret, "the JWT secret")

    _wrap(UserStore, "add", added)
    _wrap(UserStore, "rotate", rotated)
    _wrap(UserStore, "set_password", password_set)
    _wrap(tokens, "mint", minted)
    _wrap(tokens, "load_or_create_secret", loaded)


class SecretLogScanPlugin:
    """The hooks (registered once per pytest process by :func:`install`)."""

    def __init__(self) -> None:
        self.leaks: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Scan this process's logs; hand findings to the controller when a worker."""
        for handler in _handler:
            logging.getLogger().removeHandler(handler)
            handler.close()
        scan = _scan[0]
        self.leaks += scan.scan()
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKER_KEY] = self.leaks
        if self.leaks and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if not self.leaks:
            shutil.rmtree(scan.log_dir, ignore_errors=True)

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when xdist is not loaded
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: collect a worker's findings."""
        self.leaks += getattr(node, "workeroutput", {}).get(_WORKER_KEY, [])

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Say which secrets reached which log (by label, never the value)."""
        if self.leaks:
            terminalreporter.section("secrets found in the session's logs", red=True)
            for leak in self.leaks:
                terminalreporter.line(leak, red=True)
            terminalreporter.line(f"(logs kept in {_scan[0].log_dir} and the workers' folders)")


_handler: list[logging.Handler] = []


def install(config: pytest.Config) -> None:
    """Register the plugin once in this pytest process (tests/ and e2e/ conftests both ask)."""
    if config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    log_dir = Path(tempfile.mkdtemp(prefix="dagq-test-logs-"))
    _scan.append(SecretScan(log_dir))
    os.environ[logs.LOG_DIR_ENV] = str(log_dir)
    handler = logs.redacting(logging.FileHandler(log_dir / f"pytest-{os.getpid()}.log"))
    _handler.append(handler)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO:  # INFO lines are where a careless secret would go
        root.setLevel(logging.INFO)
    logs.configure_structlog()
    _watch_secret_makers()
    config.pluginmanager.register(SecretLogScanPlugin(), PLUGIN_NAME)


def pytest_configure(config: pytest.Config) -> None:
    """Entry point when loaded with ``-p tests.logscan``."""
    install(config)
