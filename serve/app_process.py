"""One browser tab's app process: its scrubbed environment and its lifecycle.

textual-serve's ``AppService`` copies the server's whole environment into the app.  Ours builds
the environment from scratch: the few variables a terminal program needs, what textual-serve's
driver needs, and the logged-in user's identity with a short-lived API token -- never the
server's own secrets (Redis URL, signing keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from asyncio.subprocess import Process
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService

from serve.web_auth import Session

log = logging.getLogger("dagq.web")

STOP_GRACE_S = 5.0
"""How long an app gets to quit politely before it is killed."""

_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL")


def app_environment(
    *,
    user: str,
    role: str,
    api_url: str,
    api_token: str,
    home: Path,
    width: int = 80,
    height: int = 24,
    data_dir: Path | None = None,
    debug: bool = False,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment of a spawned app process.

    Only ``PATH``/``LANG``/``LC_ALL`` come from ``source`` (default ``os.environ``); the rest is
    built here, including the variables textual-serve's ``AppService`` sets for its web driver.
    """
    given: Mapping[str, str] = os.environ if source is None else source
    env = {name: given[name] for name in _PASSED_THROUGH if given.get(name)}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        {
            "HOME": str(home),
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            # What textual_serve.app_service.AppService._build_environment adds, but our
            # web driver: it ends the app when the server (its stdin) goes away.
            "TEXTUAL_DRIVER": "serve.app_driver:DagqWebDriver",
            "TEXTUAL_FPS": "60",
            "TEXTUAL_COLOR_SYSTEM": "truecolor",
            "TERM_PROGRAM": "textual",
            "TERM_PROGRAM_VERSION": version("textual-serve"),
            "COLUMNS": str(width),
            "ROWS": str(height),
            "DAGQ_API_URL": api_url,
            "DAGQ_API_TOKEN": api_token,
            "DAGQ_USER": user,
            "DAGQ_ROLE": role,
        }
    )
    if data_dir is not None:
        env["DAGQ_DATA_DIR"] = str(data_dir)
    if debug:
        env["TEXTUAL"] = "debug,devtools"
        env["TEXTUAL_LOG"] = "textual.log"
    return env


class DagqAppService(AppService):
    """textual-serve's ``AppService`` with a scrubbed environment and a process that surely ends.

    The app runs in its own process group so a stuck app (and anything it started) can be
    killed; when the process ends for any reason the browser's websocket is closed, so the page
    shows "Session ended" instead of a frozen terminal.
    """

    def __init__(self, command: str, *, environment: dict[str, str], **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self._environment = environment

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = dict(self._environment)
        env["COLUMNS"] = str(width)
        env["ROWS"] = str(height)
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        self._process = process = await asyncio.create_subprocess_shell(
            self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        """Relay the app's output until it exits, then close the browser's socket."""
        try:
            await super().run()
        finally:
            with contextlib.suppress(Exception):
                await self.remote_close()

    async def stop(self) -> None:
        """Ask the app to quit, kill its process group if it does not, and reap it."""
        try:
            await asyncio.wait_for(super().stop(), STOP_GRACE_S)
        except TimeoutError:
            log.warning(
                "app %s did not quit in %.0fs; killing it", self.app_service_id, STOP_GRACE_S
            )
        process: Process | None = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await process.wait()


@dataclass(eq=False)
class LiveApp:
    """A connected browser tab: whose it is, its socket, its process and its last input."""

    session: Session
    websocket: web.WebSocketResponse
    service: DagqAppService | None = None
    last_input: float = field(default_factory=time.monotonic)
    activity: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        """Record input from the browser (resets the idle timer)."""
        self.last_input = time.monotonic()
        self.activity.set()

    async def close(self, code: int, reason: str) -> None:
        """Close the browser's socket; the websocket handler then stops the app."""
        await self.websocket.close(code=code, message=reason.encode())
