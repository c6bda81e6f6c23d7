"""Signing in and out of the web front end, against a real users file and a real server."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from orchestrator.keys import Keys
from orchestrator.security.users import UserStore
from serve.login import CSRF_COOKIE, SESSION_COOKIE, WRONG_LOGIN
from serve.web_store import WebStore
from tests.web.conftest import PASSWORDS, ServerFactory, csrf_of, login, origin_of


def _set_cookie(response: aiohttp.ClientResponse, name: str) -> str:
    headers = [h for h in response.headers.getall("Set-Cookie", []) if h.startswith(name + "=")]
    assert headers, f"no {name} cookie in {response.headers!r}"
    return headers[0]


async def test_login_sets_a_strict_httponly_expiring_session(make_server: ServerFactory) -> None:
    _, client = await make_server(session_ttl_s=600)
    form = await client.get("/login")
    assert form.status == 200
    html = await form.text()
    assert 'autocomplete="current-password"' in html and '<label for="username">' in html
    csrf_cookie = _set_cookie(form, CSRF_COOKIE)
    assert "HttpOnly" in csrf_cookie and "SameSite=Strict" in csrf_cookie

    response = await login(client, "alice")
    assert response.status == 303
    assert response.headers["Location"] == origin_of(client) + "/"
    cookie = _set_cookie(response, SESSION_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Max-Age=600" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here

    page = await client.get("/", allow_redirects=False)
    assert page.status == 200
    assert "alice" in await page.text()
    # Signed in, the login page sends the browser on to the app.
    again = await client.get("/login", allow_redirects=False)
    assert again.status == 303


@pytest.mark.parametrize(
    ("user", "password"),
    [("alice", "not-her-password"), ("nobody", "whatever-password"), ("alice", "")],
)
async def test_wrong_login_says_so_without_saying_which_part(
    make_server: ServerFactory, user: str, password: str
) -> None:
    _, client = await make_server()
    response = await login(client, user, password or " ")
    assert response.status in {400, 401}
    html = await response.text()
    assert WRONG_LOGIN in html and 'role="alert"' in html
    assert not [
        h for h in response.headers.getall("Set-Cookie", []) if h.startswith(SESSION_COOKIE)
    ]
    assert (await client.get("/", allow_redirects=False)).status == 303


async def _post_login(client: TestClient[Any, Any], **kwargs: Any) -> aiohttp.ClientResponse:
    return await client.post("/login", allow_redirects=False, **kwargs)


async def test_login_without_a_matching_csrf_token_is_refused(make_server: ServerFactory) -> None:
    _, client = await make_server()
    creds = {"username": "alice", "password": PASSWORDS["alice"]}
    # No form visited: no CSRF cookie at all.
    bare = await _post_login(client, data={**creds, "csrf": "guess"})
    assert bare.status == 403
    assert "expired" in await bare.text()

    page = await client.get("/login")
    token = csrf_of(await page.text())
    wrong_field = await _post_login(client, data={**creds, "csrf": token + "x"})
    assert wrong_field.status == 403

    # A cookie the attacker made up (no valid signature) with a matching field.
    client.session.cookie_jar.update_cookies({CSRF_COOKIE: "forged.abc"})
    forged = await _post_login(client, data={**creds, "csrf": "forged"})
    assert forged.status == 403

    page = await client.get("/login")
    token = csrf_of(await page.text())
    cross_site = await _post_login(
        client, data={**creds, "csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status == 403
    for response in (bare, wrong_field, forged, cross_site):
        assert not [
            h for h in response.headers.getall("Set-Cookie", []) if h.startswith(SESSION_COOKIE)
        ]


async def test_behind_an_https_proxy_links_and_cookies_follow_public_url(
    make_server: ServerFactory,
) -> None:
    _, client = await make_server(public_url="https://dagq.example.org/tools/")
    form = await client.get("/login")
    html = await form.text()
    assert 'action="https://dagq.example.org/tools/login"' in html
    csrf_cookie = _set_cookie(form, CSRF_COOKIE)
    assert "Path=/tools/login" in csrf_cookie and "Secure" in csrf_cookie
    # The test client talks plain http to the "proxy", so it will not send a Secure cookie
    # back by itself: hand it over as the browser behind https would.
    response = await client.post(
        "/login",
        data={"username": "bob", "password": PASSWORDS["bob"], "csrf": csrf_of(html)},
        headers={"Cookie": csrf_cookie.split(";")[0]},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "https://dagq.example.org/tools/"
    cookie = _set_cookie(response, SESSION_COOKIE)
    assert "Secure" in cookie and "Path=/tools/" in cookie


async def test_forwarded_headers_make_links_and_secure_cookies(make_server: ServerFactory) -> None:
    _, client = await make_server()
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "dagq.corp:8443"}
    form = await client.get("/login", headers=proxy)
    html = await form.text()
    assert 'action="https://dagq.corp:8443/login"' in html
    response = await client.post(
        "/login",
        data={"username": "bob", "password": PASSWORDS["bob"], "csrf": csrf_of(html)},
        headers={
            **proxy,
            "Origin": "https://dagq.corp:8443",
            "Cookie": _set_cookie(form, CSRF_COOKIE).split(";")[0],
        },
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "https://dagq.corp:8443/"
    assert "Secure" in _set_cookie(response, SESSION_COOKIE)


async def test_one_time_url_signs_the_admin_in_once(make_server: ServerFactory) -> None:
    server, client = await make_server()
    assert server.login_url.endswith(f"/?token={server.one_time.token}")

    wrong = await client.get("/?token=not-the-token", allow_redirects=False)
    assert wrong.status == 303 and wrong.headers["Location"].endswith("/login?m=link-used")

    good = await client.get(f"/?token={server.one_time.token}", allow_redirects=False)
    assert good.status == 303 and good.headers["Location"] == origin_of(client) + "/"
    page = await client.get("/", allow_redirects=False)
    assert page.status == 200 and "root (workflow_admin)" in await page.text()

    client.session.cookie_jar.clear()
    reused = await client.get(f"/?token={server.one_time.token}", allow_redirects=False)
    assert reused.headers["Location"].endswith("/login?m=link-used")
    shown = await client.get("/login?m=link-used")
    text = await shown.text()
    assert "That sign-in link was used already, or has expired" in text
    assert "`dagq login-link`" in text  # the way back in


async def test_without_a_session_everything_but_login_is_refused(
    make_server: ServerFactory,
) -> None:
    _, client = await make_server()
    index = await client.get("/", allow_redirects=False)
    assert index.status == 303 and index.headers["Location"] == origin_of(client) + "/login"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", origin=origin_of(client))
    assert refused.value.status == 401
    assert (await client.get("/download/some-key")).status == 401
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"


async def test_a_forged_or_foreign_cookie_is_no_session(make_server: ServerFactory) -> None:
    _, other_client = await make_server(secret="another-secret-" + "y" * 30)
    await login(other_client, "alice")
    foreign = other_client.session.cookie_jar.filter_cookies(other_client.make_url("/"))
    _, client = await make_server()
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: foreign[SESSION_COOKIE].value})
    assert (await client.get("/", allow_redirects=False)).status == 303
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "garbage"})
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_logout_needs_the_session_token_and_voids_the_cookie(
    make_server: ServerFactory,
) -> None:
    _, client = await make_server()
    await login(client, "alice")
    page = await client.get("/")
    logout_token = csrf_of(await page.text())
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value

    refused = await client.post("/logout", data={"csrf": "nope"}, allow_redirects=False)
    assert refused.status == 403
    done = await client.post("/logout", data={"csrf": logout_token}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"].endswith("/login?m=signed-out")
    assert (await client.get("/", allow_redirects=False)).status == 303
    # The old cookie, replayed, is void too (not just deleted from this browser).
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_failed_logins_are_throttled_per_user_and_address(
    make_server: ServerFactory,
) -> None:
    _, client = await make_server(login_max_user_failures=3, login_window_s=600)
    for _ in range(3):
        assert (await login(client, "alice", "wrong-password")).status == 401
    blocked = await login(client, "alice")  # even the right password waits now
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-in attempts" in await blocked.text()
    # Another user from the same address is not locked out by alice's failures.
    assert (await login(client, "bob")).status == 303


async def test_a_disabled_user_loses_the_session_at_once(
    make_server: ServerFactory, users: UserStore
) -> None:
    users.add("dave", "operator", password="dave-password-1")
    _, client = await make_server()
    await login(client, "dave", "dave-password-1")
    assert (await client.get("/", allow_redirects=False)).status == 200
    users.set_disabled("dave", True)
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_the_app_page_loads_nothing_from_other_hosts(make_server: ServerFactory) -> None:
    _, client = await make_server()
    await login(client, "alice")
    page = await client.get("/")
    html = await page.text()
    own = origin_of(client)
    assert "fonts.googleapis" not in html
    urls = re.findall(r"""(?:https?|wss?)://[^"'\s)]+""", html)
    assert urls, html
    foreign = [u for u in urls if u.split("//", 1)[1].split("/")[0] != own.split("//", 1)[1]]
    assert not foreign
    assert f'data-session-websocket-url="ws://{own.split("//", 1)[1]}/ws"' in html
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    font = await client.get("/static/fonts/RobotoMono-VariableFont_wght.ttf")
    assert font.status == 200


async def test_without_redis_sign_in_says_so_instead_of_guessing(
    make_server: ServerFactory, keys: Keys
) -> None:
    down = aioredis.Redis.from_url("redis://127.0.0.1:9/0")  # nothing listens there
    server, client = await make_server(store=WebStore(down, keys), admin_user=None)
    refused = await login(client, "alice")  # the throttle cannot count: no password check
    assert refused.status == 503 and "Sign-in unavailable" in await refused.text()
    cookie, _ = server.login.sessions.issue("alice", "workflow_designer")
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
    page = await client.get("/", allow_redirects=False)  # signed out? nobody can tell: refused
    assert page.status == 503 and "Sign-in unavailable" in await page.text()
    client.session.cookie_jar.clear()
    link = await client.get("/?token=anything", allow_redirects=False)
    assert link.status == 503
    await down.aclose()
