"""A real browser against a real `dagq web` serving a tiny real Textual app."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from e2e.conftest import E2E_USERS, OutsideRequests
from e2e.hello_app import GREETING
from e2e.helpers import WebServer, sign_in, type_keys, wait_for_app, wait_for_text

_WS_PROBE = """
(url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.onopen = () => { ws.close(); resolve('opened'); };
  ws.onerror = () => resolve('refused');
})
"""


def test_sign_in_through_the_form_and_use_the_app(
    page: Page, web_server: Callable[..., WebServer], outside_requests: OutsideRequests
) -> None:
    server = web_server()
    sign_in(page, server.base_url, "alice", E2E_USERS["alice"][1])
    wait_for_app(page)
    wait_for_text(page, f"{GREETING}, alice (workflow_designer)")
    wait_for_text(page, "server secret visible: no")
    type_keys(page, "hi there", press=["Enter"])
    wait_for_text(page, "You typed: hi there")
    # The page works offline: it asked no other host for anything (fonts included).
    assert outside_requests == []


def test_a_stranger_gets_the_login_page_and_no_app(
    page: Page, web_server: Callable[..., WebServer]
) -> None:
    server = web_server()
    page.goto(server.base_url + "/")
    expect(page).to_have_url(server.base_url + "/login")
    expect(page.get_by_role("heading", name="Sign in to dagq")).to_be_visible()
    ws_url = "ws://" + server.base_url.split("://", 1)[1] + "/ws"
    assert page.evaluate(_WS_PROBE, ws_url) == "refused"


def test_a_wrong_password_shows_the_message(
    page: Page, web_server: Callable[..., WebServer]
) -> None:
    server = web_server()
    sign_in(page, server.base_url, "alice", "not-alices-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(server.base_url + "/login")
    expect(page.get_by_label("Username")).to_have_value("alice")


def test_the_printed_one_time_link_works_once(
    page: Page,
    web_server: Callable[..., WebServer],
    new_context: Callable[[], BrowserContext],
) -> None:
    server = web_server()
    assert "?token=" in server.login_url
    page.goto(server.login_url)
    wait_for_app(page)
    wait_for_text(page, f"{GREETING}, root (workflow_admin)")

    other = new_context().new_page()
    other.goto(server.login_url)
    expect(other).to_have_url(server.base_url + "/login?m=link-used")
    expect(other.get_by_text("That sign-in link was used already")).to_be_visible()
