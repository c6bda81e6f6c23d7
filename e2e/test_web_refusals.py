"""What ``dagq web`` refuses: a stranger, and a websocket without a session or from another site.

The browser cannot be made to send a foreign ``Origin`` with our cookie (SameSite=Strict keeps
the cookie home, which is the first line of defence); so the second line, the Origin check on
``/ws``, is tested with a raw websocket handshake carrying a real session cookie that a browser
got by signing in.  The same cookie with our own Origin is accepted: the refusals are the
Origin's doing, not a broken cookie's.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from e2e.conftest import E2E_USERS
from e2e.hello_app import GREETING
from e2e.helpers import WebServer, sign_in, wait_for_app, wait_for_text


def ws_handshake(base_url: str, *, cookie: str | None, origin: str | None) -> tuple[int, str]:
    """Ask ``/ws`` for a websocket upgrade; the HTTP status and the response head."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    lines = [
        "GET /ws?width=80&height=24 HTTP/1.1",
        f"Host: {url.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if cookie is not None:
        lines.append(f"Cookie: {cookie}")
    head = b""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(text.split(" ", 2)[1]), text


def test_a_stranger_gets_the_login_page_and_no_websocket(
    page: Page, web_server: Callable[..., WebServer]
) -> None:
    server = web_server()
    response = page.request.get(server.base_url + "/", max_redirects=0)
    assert response.status == 303
    assert response.headers["location"] == server.base_url + "/login"

    page.goto(server.base_url + "/")
    expect(page).to_have_url(server.base_url + "/login")
    expect(page.get_by_role("heading", name="Sign in to dagq")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()

    # Without a session the upgrade is refused before any app process is started.
    status, head = ws_handshake(server.base_url, cookie=None, origin=server.base_url)
    assert status == 401, head


def test_websocket_with_a_foreign_origin_is_refused(
    page: Page, web_server: Callable[..., WebServer]
) -> None:
    server = web_server()
    sign_in(page, server.base_url, "alice", E2E_USERS["alice"][1])
    wait_for_app(page)
    wait_for_text(page, f"{GREETING}, alice")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    cookie = f"dagq_session={cookies['dagq_session']}"

    own_port = urlsplit(server.base_url).port
    foreign = [
        "http://evil.example",
        f"http://localhost.evil.example:{own_port}",
        f"https://{urlsplit(server.base_url).netloc}",  # another scheme is another origin
        "null",  # sandboxed frames and file: pages
        None,  # browsers always send one on websockets: its absence is suspect
    ]
    for origin in foreign:
        status, head = ws_handshake(server.base_url, cookie=cookie, origin=origin)
        assert status == 403, f"Origin {origin!r} was not refused:\n{head}"

    # The same session from our own page is let in (and still works in the browser).
    status, head = ws_handshake(server.base_url, cookie=cookie, origin=server.base_url)
    assert status == 101, head
    assert page.evaluate("document.body.classList.contains('-closed')") is False
