"""Bearer JWTs: round trip, expiry, tampering, and the secret file."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt
import pytest

from orchestrator.errors import ConfigError, Unauthorized
from orchestrator.security.tokens import load_or_create_secret, mint, verify

SECRET = "s" * 32


def test_round_trip() -> None:
    token = mint("alice", "workflow_designer", secret=SECRET, ttl_s=60)
    claims = verify(token, secret=SECRET)
    assert (claims.sub, claims.role, claims.iss) == ("alice", "workflow_designer", "dagq")
    assert claims.exp - claims.iat == 60
    assert claims.jti
    assert mint("alice", "r", secret=SECRET) != mint("alice", "r", secret=SECRET)


def test_expired() -> None:
    token = mint("alice", "workflow_designer", secret=SECRET, ttl_s=60, now=time.time() - 120)
    with pytest.raises(Unauthorized, match="token expired"):
        verify(token, secret=SECRET)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not.a.token",
        jwt.encode({"sub": "a", "role": "r"}, SECRET, algorithm="HS256"),  # missing claims
        jwt.encode(
            {"sub": "a", "role": "r", "iat": 1, "exp": 2**40, "jti": "j", "iss": "other"},
            SECRET,
            algorithm="HS256",
        ),
        jwt.encode(
            {"sub": "a", "role": "r", "iat": 1, "exp": 2**40, "jti": "j", "iss": "dagq"},
            None,
            algorithm="none",
        ),
        jwt.encode(
            {"sub": 5, "role": "r", "iat": 1, "exp": 2**40, "jti": "j", "iss": "dagq"},
            SECRET,
            algorithm="HS256",
        ),
    ],
)
def test_invalid(token: str) -> None:
    with pytest.raises(Unauthorized, match="invalid token"):
        verify(token, secret=SECRET)


def test_wrong_secret_and_tampering() -> None:
    token = mint("alice", "r", secret=SECRET)
    with pytest.raises(Unauthorized, match="invalid token"):
        verify(token, secret="t" * 32)
    head, body, sig = token.split(".")
    with pytest.raises(Unauthorized, match="invalid token"):
        verify(f"{head}.{body}x.{sig}", secret=SECRET)


def test_short_secret_refused() -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        mint("alice", "r", secret="short")


def test_secret_file(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / "data")
    path = tmp_path / "data" / "jwt.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "data") == first
    assert len(first) >= 32
    assert list((tmp_path / "data").iterdir()) == [path]  # no temp file left behind
    assert load_or_create_secret(tmp_path / "data", configured="c" * 40) == "c" * 40


def test_secret_file_too_short(tmp_path: Path) -> None:
    (tmp_path / "jwt.secret").write_text("abc\n")
    with pytest.raises(ConfigError, match="too short"):
        load_or_create_secret(tmp_path)


@pytest.mark.parametrize(
    "token",
    [
        "\udcff\udcfe\udc80",  # what aiohttp hands over for "Bearer \xff\xfe\x80"
        "a.b.\udcff",
        "\u00e9.\u00e9.\u00e9",
        " " + mint("alice", "r", secret=SECRET),
        mint("alice", "r", secret=SECRET) + "\t",
        "a.b",
        "x" * 5000,
    ],
    ids=["surrogates", "surrogate-signature", "non-ascii", "leading-space", "trailing-tab",
         "two-parts", "too-long"],
)  # fmt: skip
def test_a_token_that_is_not_a_compact_jws_is_invalid_not_a_crash(token: str) -> None:
    with pytest.raises(Unauthorized, match="invalid token"):
        verify(token, secret=SECRET)
