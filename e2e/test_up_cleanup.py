"""``dagq up`` killed with -9, started again, stopped with Ctrl+C: nothing it started is left.

Real processes throughout: ``dagq up`` with its embedded Redis, and a browser tab's app
process opened by a small websocket client (the one-time link, then ``/ws``, as the page's
script does).  Issue 10, items 10 and 11: the first ``dagq up`` runs with ``--fsync always``,
the second with the default, and each reaches the Redis config.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest
import redis

from e2e.helpers import ROOT
from e2e.stack import Service, dagq_command, free_port, wait_until
from orchestrator.store.pids import pid_alive


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += sorted(children - found)
            found |= children
    return found


def _app_processes(api_url: str) -> set[int]:
    """Every live process whose environment points its app at ``api_url``."""
    wanted = f"DAGQ_API_URL={api_url}".encode()
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ and pid_alive(int(proc.name)):
            found.add(int(proc.name))
    return found


class Up:
    """One ``dagq up`` process in ``data_dir``."""

    def __init__(self, data_dir: Path, home: Path, *extra: str) -> None:
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "DAGQ_DATA_DIR": str(data_dir),
        }
        argv = [*dagq_command(), "up", "--port", str(free_port()), "--workers", "0", *extra]
        self.service = Service.start("dagq up", argv, env=env, cwd=ROOT)
        self.link = self.service.wait_for_line(
            r"^\s+(http://\S+/\?token=\S+)\s*$", timeout_s=90
        ).group(1)
        self.service.wait_for_line(r"Press Ctrl\+C to stop", timeout_s=30)
        self.api_url = self.service.wait_for_line(r"API\s+(http://\S+)").group(1)

    @property
    def pid(self) -> int:
        return self.service.process.pid


def _redis(data_dir: Path) -> tuple[int, redis.Redis]:
    folder = data_dir / "redis"
    port = int((folder / "redis.port").read_text())
    password = (folder / "password").read_text().strip()
    client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=5)
    return int((folder / "redis.pid").read_text()), client


async def _open_tab(link: str) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    """Sign in with the one-time link and open the app's websocket; wait for its first frame."""
    base = link.split("/?", 1)[0]
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    page = await session.get(link)
    assert page.status == 200, await page.text()
    ws = await session.ws_connect(f"{base}/ws?width=80&height=24", origin=base)
    while True:
        message = await ws.receive(timeout=90)
        if message.type == aiohttp.WSMsgType.BINARY:
            return session, ws
        assert message.type == aiohttp.WSMsgType.TEXT, message


def _open_tab_apps(up: Up) -> tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession, set[int]]:
    loop = asyncio.new_event_loop()
    session, _ws = loop.run_until_complete(_open_tab(up.link))
    apps = wait_until(lambda: _app_processes(up.api_url), "the tab's app process", 60)
    assert apps <= _descendants(up.pid)  # spawned by this dagq up
    return loop, session, apps


def _close(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
    loop.run_until_complete(session.close())
    loop.close()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_kill_9_then_restart_then_ctrl_c_leaves_no_redis_and_no_app(
    tmp_path: Path, data_dir: Path
) -> None:
    first = Up(data_dir, tmp_path, "--fsync", "always")
    try:
        redis_pid, client = _redis(data_dir)
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert "AOF fsync always: every acknowledged run is on disk" in first.service.text
        client.close()
        loop, session, first_apps = _open_tab_apps(first)

        first.service.process.send_signal(signal.SIGKILL)
        first.service.process.wait(30)
        wait_until(
            lambda: not any(pid_alive(p) for p in first_apps),
            "the killed server's app processes to exit",
            60,
        )
        _close(loop, session)
        assert pid_alive(redis_pid)  # orphaned: nobody stopped it
    finally:
        first.service.stop(signal.SIGKILL)

    second = Up(data_dir, tmp_path)  # the default durability
    try:
        adopted_pid, client = _redis(data_dir)
        assert adopted_pid == redis_pid  # the orphan, adopted rather than replaced
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert "AOF fsync everysec: a machine crash can lose the last ~1 s" in second.service.text
        client.close()
        loop, session, second_apps = _open_tab_apps(second)
        code = second.service.stop(signal.SIGINT, timeout_s=60)
        _close(loop, session)
    finally:
        second.service.stop(signal.SIGKILL)
    assert code == 0, second.service.text

    wait_until(lambda: not pid_alive(redis_pid), "the embedded Redis to stop", 30)
    api_urls = (first.api_url, second.api_url)
    wait_until(
        lambda: not any(_app_processes(url) for url in api_urls), "every app process to end", 30
    )
    assert not any(pid_alive(p) for p in first_apps | second_apps)
    assert not (data_dir / "redis" / "redis.pid").exists()
    assert not (data_dir / "redis" / "owner").exists()
