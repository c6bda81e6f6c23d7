"""The web front end answers a stranger's cookies, forms and headers without a 500, and keeps a
password typed into the user name field out of its log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.logscan import register_secret
from tests.web.conftest import ServerFactory, csrf_of


async def raw(client: TestClient[Any, Any], head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request with exactly these bytes; its status and response headers+body."""
    port = client.server.port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = f"\r\nContent-Length: {len(body)}".encode() if body else b""
    host = b"" if b"\r\nHost:" in head else b"\r\nHost: 127.0.0.1"
    writer.write(head + length + host + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return int(answer.split(b" ", 2)[1]), answer


FORM = b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"
CASES = {
    "session-cookie-ff": (b"GET / HTTP/1.1\r\nCookie: dagq_session=\xff", b"", {303}),
    "session-cookie-ff-logout": (b"POST /logout HTTP/1.1\r\nCookie: dagq_session=\xff\xfe", b"",
                                 {303}),
    "session-cookie-ff-ws": (b"GET /ws HTTP/1.1\r\nCookie: dagq_session=\xff", b"", {401}),
    "session-cookie-not-a-jwt": (b"GET / HTTP/1.1\r\nCookie: dagq_session=a.b.c", b"", {303}),
    "csrf-cookie-ff": (FORM + b"\r\nCookie: dagq_csrf=\xff", b"username=a&password=b&csrf=x",
                       {403}),
    "csrf-field-ff": (FORM + b"\r\nCookie: dagq_csrf=a.b", b"username=a&password=b&csrf=%FF",
                      {403}),
    "form-not-utf8": (FORM, b"username=\xff&password=\xfe", {400}),
    "form-unknown-charset": (FORM + b"; charset=bogus", b"username=a", {400}),
    "multipart-without-boundary": (b"POST /login HTTP/1.1\r\nContent-Type: multipart/form-data",
                                   b"xx", {400}),
    "multipart-garbage": (b"POST /login HTTP/1.1\r\nContent-Type: multipart/form-data; "
                          b"boundary=zz", b"garbage", {400}),
    "form-lying-gzip": (FORM + b"\r\nContent-Encoding: gzip", b"not gzip", {400}),
    "one-time-token-ff": (b"GET /?token=%FF%FE HTTP/1.1", b"", {303}),
    "one-time-token-bytes": (b"GET /?token=\xff HTTP/1.1", b"", {400}),
    "forwarded-host-ff": (b"GET / HTTP/1.1\r\nX-Forwarded-Host: \xff\xfe", b"", {303}),
    "forwarded-proto-ff": (b"GET / HTTP/1.1\r\nX-Forwarded-Proto: \xff", b"", {303}),
    "host-ff": (b"GET /login HTTP/1.1\r\nHost: \xff", b"", {400}),
    "origin-ff": (FORM + b"\r\nOrigin: \xff", b"username=a&password=b&csrf=x", {403}),
    "accept-ff": (b"GET /login HTTP/1.1\r\nAccept: \xff", b"", {200}),
}  # fmt: skip


@pytest.mark.parametrize(("head", "body", "statuses"), CASES.values(), ids=CASES.keys())
async def test_hostile_cookies_and_forms_get_no_500(
    make_server: ServerFactory,
    caplog: pytest.LogCaptureFixture,
    head: bytes,
    body: bytes,
    statuses: set[int],
) -> None:
    _, client = await make_server()
    with caplog.at_level(logging.INFO):
        status, answer = await raw(client, head, body)
    assert status in statuses, answer[:300]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    health = await client.get("/healthz")
    assert health.status == 200


async def test_a_password_typed_as_the_user_name_is_not_logged(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    _, client = await make_server()
    typed = "correct-horse-battery-staple-9"
    register_secret(typed, "a password typed into the user name field")
    page = await client.get("/login")
    with caplog.at_level(logging.INFO, logger="dagq.web"):
        wrong = await client.post(
            "/login",
            data={"username": typed, "password": "x" * 12, "csrf": csrf_of(await page.text())},
            allow_redirects=False,
        )
        page = await client.get("/login")
        known = await client.post(
            "/login",
            data={"username": "bob", "password": "x" * 12, "csrf": csrf_of(await page.text())},
            allow_redirects=False,
        )
    assert (wrong.status, known.status) == (401, 401)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert typed not in text
    assert f"an unknown user name ({len(typed)} characters)" in text
    assert "failed sign-in for 'bob'" in text
