"""The pure security pieces of the web tier, with injected clocks (no sleeps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from serve.app_process import app_environment
from serve.web_auth import (
    CsrfGuard,
    SessionCodec,
    base_url,
    client_address,
    derive_key,
    normalise_origin,
)

SECRET = "unit-test-secret-0123456789"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_session_round_trip_and_expiry() -> None:
    clock = Clock()
    codec = SessionCodec(SECRET, ttl_s=60, clock=clock)
    cookie, session = codec.issue("alice", "workflow_designer")
    assert codec.read(cookie) == session
    clock.now += 59
    assert codec.read(cookie) is not None
    clock.now += 2
    assert codec.read(cookie) is None


def test_session_cookies_do_not_cross_secrets_or_tamper() -> None:
    codec = SessionCodec(SECRET, ttl_s=60)
    cookie, _ = codec.issue("alice", "workflow_designer")
    assert SessionCodec(SECRET + "-other", ttl_s=60).read(cookie) is None
    head, body, sig = cookie.split(".")
    assert codec.read(f"{head}.{body}.{sig[:-2]}AA") is None
    assert codec.read("") is None and codec.read(None) is None and codec.read("x" * 5000) is None


def test_derived_keys_differ_per_purpose_and_need_a_real_secret() -> None:
    assert derive_key(SECRET, "session") != derive_key(SECRET, "csrf")
    with pytest.raises(ConfigError):
        derive_key("short", "session")


def test_csrf_double_submit() -> None:
    guard = CsrfGuard(SECRET)
    token = guard.new_token()
    cookie = guard.cookie_value(token)
    assert guard.check(cookie, token)
    assert not guard.check(cookie, token + "x")
    assert not guard.check(None, token)
    assert not guard.check(cookie, None)
    assert not guard.check(f"{token}.{'0' * 64}", token)  # unsigned cookie
    assert not CsrfGuard(SECRET + "-other").check(cookie, token)


def test_csrf_session_tokens_are_bound_to_the_session() -> None:
    guard = CsrfGuard(SECRET)
    codec = SessionCodec(SECRET, ttl_s=60)
    _, one = codec.issue("alice", "workflow_designer")
    _, two = codec.issue("alice", "workflow_designer")
    assert guard.check_session(one, guard.session_token(one))
    assert not guard.check_session(two, guard.session_token(one))


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://Example.org", "http://example.org"),
        ("http://example.org:80/path", "http://example.org"),
        ("https://example.org:443", "https://example.org"),
        ("https://example.org:8443/x?y", "https://example.org:8443"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("null", None),
        ("ftp://example.org", None),
        ("http://example.org:99999", None),
    ],
)
def test_normalise_origin(url: str, origin: str | None) -> None:
    assert normalise_origin(url) == origin


def test_base_url_prefers_public_url_then_forwarded_headers() -> None:
    assert base_url("https://x.org/dagq/", scheme="http", host="h:1") == "https://x.org/dagq"
    assert base_url(None, scheme="http", host="h:1") == "http://h:1"
    assert (
        base_url(
            None,
            scheme="http",
            host="h:1",
            forwarded_proto="https, http",
            forwarded_host="dagq.org, inner",
        )
        == "https://dagq.org"
    )
    assert base_url(None, scheme="http", host="h:1", forwarded_proto="gopher") == "http://h:1"


def test_app_environment_is_built_from_scratch(tmp_path: Path) -> None:
    source = {"PATH": "/usr/bin", "LANG": "en_GB.UTF-8", "DAGQ_REDIS_URL": "redis://x", "A": "b"}
    env = app_environment(
        user="alice",
        role="workflow_designer",
        api_url="http://api",
        api_token="tok",
        home=tmp_path,
        width=90,
        height=33,
        source=source,
    )
    assert env["PATH"] == "/usr/bin" and env["LANG"] == "en_GB.UTF-8"
    assert "DAGQ_REDIS_URL" not in env and "A" not in env and "DAGQ_DATA_DIR" not in env
    assert (env["COLUMNS"], env["ROWS"], env["HOME"]) == ("90", "33", str(tmp_path))
    assert (env["DAGQ_USER"], env["DAGQ_ROLE"], env["DAGQ_API_TOKEN"]) == (
        "alice",
        "workflow_designer",
        "tok",
    )
    with_data = app_environment(
        user="a", role="r", api_url="u", api_token="t", home=tmp_path, data_dir=tmp_path, source={}
    )
    assert with_data["DAGQ_DATA_DIR"] == str(tmp_path) and with_data["LANG"] == "C.UTF-8"


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        ("93.184.216.34", None, "93.184.216.34"),
        ("93.184.216.34", "10.9.9.9", "93.184.216.34"),  # a public peer cannot pick its own
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),  # a proxy on this host
        ("10.0.0.2", "1.1.1.1, 198.51.100.7", "198.51.100.7"),  # the proxy's own entry wins
        ("172.17.0.1", "not-an-address", "172.17.0.1"),
        ("::1", "2001:db8::7", "2001:db8::7"),
        (None, "198.51.100.7", "unknown"),
    ],
)
def test_client_address_trusts_only_a_proxy_on_a_private_network(
    peer: str | None, forwarded: str | None, address: str
) -> None:
    assert client_address(peer, forwarded) == address
