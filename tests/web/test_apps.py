"""The app processes behind ``/ws``: Origin, environment, caps, idle timeout, sign-out, exit.

Each test spawns the real test app (``envdump_app.py``) through the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from orchestrator.security import tokens
from orchestrator.store.pids import pid_alive
from serve.server import CLOSE_IDLE, CLOSE_SIGNED_OUT
from tests.web.conftest import (
    SECRET,
    ServerFactory,
    csrf_of,
    login,
    open_app,
    origin_of,
    read_env,
    wait_until,
)

_ALLOWED_ENV = {
    "PATH", "LANG", "LC_ALL", "HOME", "TERM", "COLORTERM",
    "TEXTUAL_DRIVER", "TEXTUAL_FPS", "TEXTUAL_COLOR_SYSTEM", "TERM_PROGRAM",
    "TERM_PROGRAM_VERSION", "COLUMNS", "ROWS",
    "DAGQ_API_URL", "DAGQ_API_TOKEN", "DAGQ_USER", "DAGQ_ROLE", "DAGQ_DATA_DIR",
    # Added by the shell that runs the command and by Python itself, not by the server.
    "PWD", "SHLVL", "_", "LC_CTYPE",
}  # fmt: skip


async def _receive_close(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    while True:
        message = await ws.receive(timeout=60)
        if message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}:
            return ws.close_code


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None])
async def test_ws_from_a_foreign_or_missing_origin_is_refused(
    make_server: ServerFactory, origin: str | None, env_file: Path
) -> None:
    server, client = await make_server()
    await login(client, "alice")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", origin=origin)
    assert refused.value.status == 403
    assert not server.live  # no process was started
    assert not await asyncio.to_thread(env_file.exists)


async def test_the_app_gets_the_session_identity_and_no_server_secret(
    make_server: ServerFactory, env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGQ_REDIS_URL", "redis://:hunter2@db:6379/0")
    monkeypatch.setenv("PLANTED_SERVER_SECRET", "do-not-leak-me")
    server, client = await make_server()
    await login(client, "alice")
    ws = await open_app(client)

    env = read_env(env_file)
    assert env["DAGQ_USER"] == "alice"
    assert env["DAGQ_ROLE"] == "workflow_designer"
    assert env["DAGQ_API_URL"] == "http://api.test:8080"
    claims = tokens.verify(env["DAGQ_API_TOKEN"], secret=SECRET)
    assert (claims.sub, claims.role) == ("alice", "workflow_designer")
    assert claims.exp - claims.iat <= 60
    assert env["TEXTUAL_DRIVER"] == "serve.app_driver:DagqWebDriver"
    assert env["COLUMNS"] == "100" and env["ROWS"] == "30"
    assert "PLANTED_SERVER_SECRET" not in env and "DAGQ_REDIS_URL" not in env
    assert SECRET not in " ".join(env.values())
    assert env["HOME"] != os.environ.get("HOME")
    assert set(env) <= _ALLOWED_ENV, set(env) - _ALLOWED_ENV
    home = Path(env["HOME"])
    assert await asyncio.to_thread(home.is_dir)

    await ws.close()
    await wait_until(lambda: not server.live, "the app to be stopped")
    assert not await asyncio.to_thread(home.exists)  # the per-session home is cleaned up


async def test_per_user_cap_refuses_politely(make_server: ServerFactory) -> None:
    server, client = await make_server(max_apps_per_user=1, max_apps=5)
    await login(client, "alice")
    first = await open_app(client)

    page = await client.get("/", allow_redirects=False)
    assert page.status == 429
    assert "already have 1 dagq window" in await page.text()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", origin=origin_of(client))
    assert refused.value.status == 429
    assert len(server.live) == 1

    await first.close()
    await wait_until(lambda: not server.live, "the first app to stop")
    second = await open_app(client)  # the slot is free again
    await second.close()


async def test_overall_cap_refuses_other_users_too(make_server: ServerFactory) -> None:
    server, alice = await make_server(max_apps_per_user=3, max_apps=1)
    await login(alice, "alice")
    ws = await open_app(alice)
    bob: TestClient[Any, Any] = TestClient(alice.server)
    await bob.start_server()
    try:
        await login(bob, "bob")
        page = await bob.get("/", allow_redirects=False)
        assert page.status == 429
        assert "as many windows as it can" in await page.text()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await bob.ws_connect("/ws", origin=origin_of(bob))
        assert refused.value.status == 429
    finally:
        await bob.session.close()
    await ws.close()
    await wait_until(lambda: not server.live, "the app to stop")


async def test_an_idle_app_is_closed(make_server: ServerFactory) -> None:
    server, client = await make_server(idle_timeout_s=1.0)
    await login(client, "alice")
    # Not open_app(): on a loaded machine the app may take longer than 1 s to draw.
    ws = await client.ws_connect("/ws", origin=origin_of(client))
    assert await _receive_close(ws) == CLOSE_IDLE
    await wait_until(lambda: not server.live, "the idle app to be stopped")


async def test_signing_out_closes_the_session_apps(make_server: ServerFactory) -> None:
    server, client = await make_server()
    await login(client, "alice")
    page = await client.get("/")
    token = csrf_of(await page.text())
    ws = await open_app(client)
    done = await client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert done.status == 303
    assert await _receive_close(ws) == CLOSE_SIGNED_OUT
    await wait_until(lambda: not server.live, "the app to be stopped")


async def test_an_app_that_dies_ends_the_session_instead_of_hanging(
    make_server: ServerFactory,
) -> None:
    server, client = await make_server(command="exit 3")
    await login(client, "alice")
    ws = await client.ws_connect("/ws", origin=origin_of(client))
    await _receive_close(ws)
    await wait_until(lambda: not server.live, "the dead app to be forgotten")


async def test_garbage_from_the_browser_is_ignored(make_server: ServerFactory) -> None:
    server, client = await make_server()
    await login(client, "alice")
    ws = await open_app(client)
    for junk in ["not json", "{}", "[]", '["stdin", 5]', '["resize", "big"]', '["nope"]']:
        await ws.send_str(junk)
    await ws.send_str('["ping", "42"]')
    while True:
        message = await ws.receive(timeout=30)
        if message.type == aiohttp.WSMsgType.TEXT:
            assert message.json() == ["pong", "42"]
            break
        assert message.type == aiohttp.WSMsgType.BINARY
    assert len(server.live) == 1
    await ws.close()


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = [int(c) for c in (task / "children").read_text().split()]
                found += children
                todo += children
    return found


async def test_an_app_whose_server_is_gone_exits(make_server: ServerFactory) -> None:
    # Issue 10 item 11: a killed server closes the app's stdin and nothing else; the app
    # lived on.  Closing the pipe here is exactly what the server's death does to it.
    server, client = await make_server()
    await login(client, "alice")
    ws = await open_app(client)
    (live,) = server.live
    assert live.service is not None and live.service._process is not None
    shell = live.service._process.pid
    pids = [shell, *_descendants(shell)]
    assert len(pids) >= 2  # the shell and the Python app under it
    assert live.service._stdin is not None
    live.service._stdin.close()
    await wait_until(lambda: not any(pid_alive(p) for p in pids), "the app processes to exit")
    await _receive_close(ws)
    await wait_until(lambda: not server.live, "the session to end")
