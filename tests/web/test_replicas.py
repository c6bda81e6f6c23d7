"""Two web replicas over one Redis, and a restarted one: sign-outs, links and throttling hold.

Each server is a real ``DagqServer`` on its own socket; replicas share the test's Redis and key
prefix (and the secret that signs cookies), exactly as ``dagq web`` processes of one deployment
do.  A "restarted" server is a new server object: nothing survives in memory.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from orchestrator.keys import Keys
from serve.login import SESSION_COOKIE
from serve.server import CLOSE_SIGNED_OUT
from tests.web.conftest import ServerFactory, csrf_of, login, open_app, wait_until


def _cookie(client: TestClient[Any, Any]) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value


async def _with_cookie(client: TestClient[Any, Any], cookie: str) -> int:
    """The status of ``GET /`` with ``cookie`` (200: the designer opens; 303: to the login)."""
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
    return (await client.get("/", allow_redirects=False)).status


async def _sign_out(client: TestClient[Any, Any]) -> None:
    page = await client.get("/")
    done = await client.post(
        "/logout", data={"csrf": csrf_of(await page.text())}, allow_redirects=False
    )
    assert done.status == 303 and done.headers["Location"].endswith("?m=signed-out")


async def test_a_signed_out_cookie_is_refused_by_other_replicas_and_after_a_restart(
    make_server: ServerFactory,
) -> None:
    _, one = await make_server()
    _, two = await make_server()
    assert (await login(one, "alice")).status == 303
    cookie = _cookie(one)
    assert await _with_cookie(two, cookie) == 200  # the cookie works on every replica
    await _sign_out(one)
    assert await _with_cookie(one, cookie) == 303
    assert await _with_cookie(two, cookie) == 303
    _, restarted = await make_server()  # a new process: nothing in memory
    assert await _with_cookie(restarted, cookie) == 303
    # Another session of the same user is untouched.
    assert (await login(restarted, "alice")).status == 303
    assert (await restarted.get("/", allow_redirects=False)).status == 200


async def test_the_sign_out_record_lasts_exactly_the_session_life(
    make_server: ServerFactory, redis_client: aioredis.Redis, keys: Keys
) -> None:
    server, client = await make_server(session_ttl_s=600)
    await login(client, "alice")
    session = server.login.sessions.read(_cookie(client))
    assert session is not None
    await _sign_out(client)
    ttl_ms = await redis_client.pttl(keys.web_revoked(session.sid))
    assert 0 < ttl_ms <= 600_000


async def test_signing_out_closes_the_apps_on_other_replicas(make_server: ServerFactory) -> None:
    server_two, two = await make_server()
    _, one = await make_server()
    await login(one, "alice")
    two.session.cookie_jar.update_cookies({SESSION_COOKIE: _cookie(one)})
    ws = await open_app(two)  # the same session's app, on the other replica
    await _sign_out(one)
    while True:
        message = await ws.receive(timeout=60)
        if message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}:
            break
    assert ws.close_code == CLOSE_SIGNED_OUT
    await wait_until(lambda: not server_two.live, "the other replica's app to be stopped")


async def test_a_one_time_link_works_once_on_any_replica(make_server: ServerFactory) -> None:
    printer, one = await make_server()
    _, two = await make_server()
    token = printer.one_time.token
    used = await two.get(f"/?token={token}", allow_redirects=False)  # printed by one, used on two
    assert used.headers["Location"].endswith("/") and "link-used" not in used.headers["Location"]
    assert (await two.get("/", allow_redirects=False)).status == 200
    for client in (one, two):
        client.session.cookie_jar.clear()
        again = await client.get(f"/?token={token}", allow_redirects=False)
        assert again.headers["Location"].endswith("/login?m=link-used")
    _, restarted = await make_server()
    replay = await restarted.get(f"/?token={token}", allow_redirects=False)
    assert replay.headers["Location"].endswith("/login?m=link-used")


async def test_a_link_used_on_two_replicas_at_once_signs_in_once(
    make_server: ServerFactory,
) -> None:
    printer, _ = await make_server()
    clients = [(await make_server())[1] for _ in range(4)]
    token = printer.one_time.token
    responses = await asyncio.gather(
        *(c.get(f"/?token={token}", allow_redirects=False) for c in clients)
    )
    winners = [r for r in responses if not r.headers["Location"].endswith("link-used")]
    assert len(winners) == 1


async def test_a_stopped_server_withdraws_its_unused_link(
    make_server: ServerFactory, redis_client: aioredis.Redis, keys: Keys
) -> None:
    printer, _ = await make_server()
    _, other = await make_server()
    token = printer.one_time.token
    await printer.shutdown()
    refused = await other.get(f"/?token={token}", allow_redirects=False)
    assert refused.headers["Location"].endswith("/login?m=link-used")


async def test_password_spraying_from_one_address_gets_429(make_server: ServerFactory) -> None:
    _, first = await make_server(login_max_user_failures=5, login_max_address_failures=10)
    _, second = await make_server(login_max_user_failures=5, login_max_address_failures=10)
    statuses = []
    for n in range(30):
        client = first if n % 2 else second  # spread over both replicas
        statuses.append((await login(client, f"user{n}", "Winter2026!")).status)
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429] * 20
    refused = await login(first, "alice")  # even a right password waits now
    assert refused.status == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 0 < retry_after <= 300
    assert f"Too many failed sign-in attempts. Try again in {retry_after} s." in (
        await refused.text()
    )


async def test_behind_a_proxy_each_client_address_has_its_own_budget(
    make_server: ServerFactory,
) -> None:
    _, client = await make_server(login_max_user_failures=50, login_max_address_failures=3)

    async def attempt(user: str, forwarded_for: str) -> int:
        page = await client.get("/login")
        response = await client.post(
            "/login",
            data={
                "username": user,
                "password": "wrong-password",
                "csrf": csrf_of(await page.text()),
            },
            headers={"X-Forwarded-For": forwarded_for},
            allow_redirects=False,
        )
        return response.status

    assert [await attempt(f"u{n}", "198.51.100.1") for n in range(4)] == [401, 401, 401, 429]
    # The test client is a peer on this host: a proxy, whose appended address counts.
    assert await attempt("u9", "198.51.100.2") == 401
    assert await attempt("u9", "6.6.6.6, 198.51.100.1") == 429  # a forged first entry is ignored
