"""The local stack: API (with its orchestrator loop) and workers in this process.

``dagq up`` runs one that stays (with the web front end beside it); ``dagq tui``
starts one in-process when no local stack is running, so a local user types one
command.  Either way the API's URL and a local admin's key go to
``<data dir>/local.json`` (mode 0600) for the command line and the TUI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from orchestrator.api.app import create_app, runner
from orchestrator.client import LOCAL_CONFIG
from orchestrator.errors import DagqError
from orchestrator.runtime.datadir_lock import DataDirLock
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.service.runs import RunService
from orchestrator.service.workflows import upsert_workflow
from orchestrator.settings import Settings
from orchestrator.spec.limits import judge_spec
from orchestrator.spec.loader import load_file
from orchestrator.store.connection import Connection, connect
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker

log = logging.getLogger("dagq.stack")
LOCAL_ADMIN = "local-admin"


@dataclass
class StackInfo:
    """Where the local stack answers and who it lets in."""

    api_url: str
    api_key: str
    admin: str
    policies_dir: Path
    redis_url: str
    redis_fsync: str | None = None
    """The embedded Redis's ``appendfsync`` as it runs (None for a configured Redis)."""


def write_local_config(settings: Settings, info: StackInfo) -> Path:
    """Record the stack in ``<data dir>/local.json`` (0600: it holds the admin's key)."""
    path = Path(settings.data_dir) / LOCAL_CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            orjson.dumps(
                {
                    "api_url": info.api_url,
                    "api_key": info.api_key,
                    "admin": info.admin,
                    "policies_dir": str(info.policies_dir),
                    "pid": os.getpid(),
                },
                option=orjson.OPT_INDENT_2,
            )
        )
    os.replace(tmp, path)
    return path


def recorded_key(settings: Settings) -> str | None:
    """The admin key ``local.json`` holds, if any (it may be stale)."""
    path = Path(settings.data_dir) / LOCAL_CONFIG
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    key = data.get("api_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def ensure_local_admin(
    policies_dir: Path, name: str = LOCAL_ADMIN, *, known_key: str | None = None
) -> tuple[str, bool]:
    """An API key for the local admin, creating the user on first start.

    Returns the key and whether the user was created.  ``known_key`` (the one
    ``local.json`` recorded) is kept while it still verifies, so a second local
    session does not lock out the first; otherwise the key is rotated: only its
    hash is on disk, so a lost plaintext cannot be recovered.
    """
    ensure_policies_dir(policies_dir)
    users = UserStore.in_dir(policies_dir)
    if users.get(name) is None:
        _, key = users.add(name, "workflow_admin")
        return key, True
    if known_key is not None:
        user = users.verify_key(known_key)
        if user is not None and user.name == name:
            return known_key, False
    return users.rotate(name), False


def local_policies_dir(settings: Settings) -> Path:
    """Where a local stack keeps its users and policy: the configured policies dir
    (``DAGQ_POLICIES_DIR`` or the config file), else ``<data dir>/policies`` — never a
    ``./policies`` checkout, whose files are templates under version control."""
    return settings.policies_dir or Path(settings.data_dir) / "policies"


def default_handlers() -> list[str]:
    """``examples/handlers.py`` when run from a checkout, else nothing."""
    candidate = Path.cwd() / "examples" / "handlers.py"
    return [str(candidate)] if candidate.exists() else []


async def seed_examples(service: RunService, folder: Path) -> list[str]:
    """Store every valid example spec of ``folder`` that is not stored yet."""
    stored: list[str] = []
    paths = await asyncio.to_thread(lambda: sorted(folder.glob("*.y*ml")))
    for path in paths:
        try:
            result, spec = judge_spec(load_file(path), service.settings)
            result.raise_if_invalid(str(path))  # nothing invalid is ever stored
            assert spec is not None
            if not await service.workflows.exists(spec.id):
                await upsert_workflow(service, spec, user=LOCAL_ADMIN)
                stored.append(spec.id)
        except DagqError as exc:
            log.warning("example %s not loaded: %s", path, exc)
    return stored


@dataclass
class LocalStack:
    """API + orchestrator + workers on one connection, in this process."""

    settings: Settings
    handlers: list[str] = field(default_factory=default_handlers)
    workers: int = 1
    concurrency: int = 8
    host: str = "127.0.0.1"
    port: int = 0
    stay: bool = False
    policies_dir: Path | None = None
    examples: Path | None = None
    command: str = "a dagq local stack"
    """How a second stack on the same data dir names this one (``dagq up``, ``dagq tui``)."""
    info: StackInfo | None = None
    _lock: DataDirLock | None = None
    _conn: Connection | None = None
    _runner: web.AppRunner | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def start(self) -> StackInfo:
        """Take the data dir, connect (starting the embedded Redis if needed), serve the
        API, start workers.  :class:`DataDirInUse` when another stack runs on the data dir."""
        policies = self.policies_dir or local_policies_dir(self.settings)
        registry = Registry()
        for source in self.handlers:
            registry.load(source)
        lock = DataDirLock(Path(self.settings.data_dir), self.command)
        await asyncio.to_thread(lock.acquire)
        self._lock = lock
        try:
            return await self._start(policies, registry)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, policies: Path, registry: Registry) -> StackInfo:
        key, _ = await asyncio.to_thread(
            ensure_local_admin, policies, known_key=recorded_key(self.settings)
        )
        self._conn = conn = await connect(self.settings, stay=self.stay)
        app = create_app(self.settings, conn, policies_dir=policies)
        self._runner = runner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self._bound_port(site)
        if self.examples is not None:
            await seed_examples(RunService(conn.redis, conn.keys, self.settings), self.examples)
        for _ in range(self.workers if len(registry) else 0):
            worker = Worker(
                conn.redis, conn.keys, self.settings, registry, concurrency=self.concurrency
            )
            self._tasks.append(asyncio.create_task(worker.run(self._stop)))
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        self.info = StackInfo(
            api_url=f"http://{host}:{port}",
            api_key=key,
            admin=LOCAL_ADMIN,
            policies_dir=policies,
            redis_url=conn.safe_url,
            redis_fsync=(
                await asyncio.to_thread(conn.embedded.fsync_policy) if conn.embedded else None
            ),
        )
        write_local_config(self.settings, self.info)
        self.publish(api_url=self.info.api_url)
        return self.info

    def publish(self, **addresses: str) -> None:
        """Record addresses (``api_url``, ``web_url``) in the data dir lock, for the refusal
        a second stack on this data dir prints."""
        if self._lock is not None:
            self._lock.publish(**addresses)

    @property
    def connection(self) -> Connection:
        """The stack's Redis connection (once started): the web tier shares it."""
        if self._conn is None:
            raise RuntimeError("the local stack is not started")
        return self._conn

    def _bound_port(self, site: web.TCPSite) -> int:
        server = site._server  # aiohttp keeps the listening socket here
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else self.port

    async def stop(self) -> None:
        """Stop workers (letting in-flight jobs finish), the API, and the connection."""
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.info is not None:
            path = Path(self.settings.data_dir) / LOCAL_CONFIG
            with contextlib.suppress(OSError):
                recorded = orjson.loads(path.read_bytes())
                if recorded.get("pid") == os.getpid():
                    path.unlink()
        if self._conn is not None:
            await self._conn.aclose()
            self._conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def __aenter__(self) -> LocalStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
