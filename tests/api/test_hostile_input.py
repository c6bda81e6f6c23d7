"""What a stranger sends gets a 4xx decided without a traceback; a real bug gets one line.

Raw requests go over a socket to the in-process API (a real aiohttp server on a real Redis),
so bytes no HTTP client library would send (``\\xff`` in a header) arrive as an attacker
sends them.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import zlib
from typing import Any

import orjson
import pytest

from orchestrator.api.state import STATE
from tests.api.conftest import Api, pipeline_spec


async def raw_request(api: Api, head: bytes, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send ``head`` (request line and headers, CRLF-separated) and ``body``; the status and
    the JSON body (``{}`` when the answer is not JSON)."""
    port = api.client.server.port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = f"Content-Length: {len(body)}\r\n".encode() if body else b""
    writer.write(head + b"\r\nHost: t\r\n" + length + b"Connection: close\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    payload = answer.split(b"\r\n\r\n", 1)[1]
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        parsed = {}
    return status, parsed if isinstance(parsed, dict) else {}


def key_header(api: Api, role: str = "admin") -> bytes:
    return b"\r\nX-API-Key: " + api.keys[role].encode()


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not noisy, [f"{r.name}: {r.getMessage()}" for r in noisy]


DEEP = b'{"parameters": {"x": ' + b"[" * 1000 + b"]" * 1000 + b"}}"


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)  # the same bytes in every xdist worker


JSON_POST = b"POST /api/v1/validate HTTP/1.1\r\nContent-Type: application/json"
RUN_POST = b"POST /api/v1/workflows/pipeline/runs HTTP/1.1\r\nContent-Type: application/json"
CASES = {
    "bearer-not-utf8": (b"GET /api/v1/workflows HTTP/1.1\r\nAuthorization: Bearer \xff\xfe\x80",
                        b"", 401, "UNAUTHORIZED"),
    "scheme-not-utf8": (b"GET /api/v1/workflows HTTP/1.1\r\nAuthorization: \xffBearer x.y.z", b"",
                        401, "UNAUTHORIZED"),
    "key-not-utf8": (b"GET /api/v1/workflows HTTP/1.1\r\nX-API-Key: dagq_\xff\xff\xff\xff_x", b"",
                     401, "UNAUTHORIZED"),
    "bearer-not-a-jwt": (b"GET /api/v1/workflows HTTP/1.1\r\nAuthorization: Bearer a.b.c", b"",
                         401, "UNAUTHORIZED"),
    "path-not-utf8": (b"GET /api/v1/workflows/%FF HTTP/1.1{key}", b"", 404, "NOT_FOUND"),
    "last-event-id-not-utf8": (b"GET /api/v1/runs/r1/events HTTP/1.1\r\nLast-Event-ID: \xff{key}",
                               b"", 400, "BAD_REQUEST"),
    "query-escapes-not-utf8": (b"GET /api/v1/workflows?name=%FF%FE&tag=%C3%28 HTTP/1.1{key}", b"",
                               200, None),
    "query-bytes-not-utf8": (b"GET /api/v1/workflows?name=\xff HTTP/1.1{key}", b"", 400, None),
    "request-id-not-utf8": (b"GET /api/v1/whoami HTTP/1.1\r\nX-Request-Id: \xff\xff{key}", b"",
                            200, None),
    "json-malformed": (JSON_POST + b"{key}", b'{"name": "x", ', 400, "BAD_REQUEST"),
    "json-not-utf8": (JSON_POST + b"{key}", b'{"name": "\xff\xfe"}', 400, "BAD_REQUEST"),
    "json-a-list": (JSON_POST + b"{key}", b"[1, 2]", 400, "BAD_REQUEST"),
    "content-type-text": (b"POST /api/v1/validate HTTP/1.1\r\nContent-Type: text/plain{key}", b"{}",
                          400, "BAD_REQUEST"),
    "content-type-not-utf8": (JSON_POST + b"\xff{key}", b"{}", 400, "BAD_REQUEST"),
    "gzip-that-is-not": (JSON_POST + b"\r\nContent-Encoding: gzip{key}", b"this is not gzip",
                         400, "BAD_REQUEST"),
    "deflate-that-is-gzip": (JSON_POST + b"\r\nContent-Encoding: deflate{key}", _gzip(b"{}"),
                             400, "BAD_REQUEST"),
    "gzip-cut-short": (JSON_POST + b"\r\nContent-Encoding: gzip{key}",
                       _gzip(b'{"name": "x"')[:-8], 400, "BAD_REQUEST"),
    "gzip-twice": (JSON_POST + b"\r\nContent-Encoding: gzip, gzip{key}", _gzip(_gzip(b"{}")),
                   400, "BAD_REQUEST"),
    "brotli": (JSON_POST + b"\r\nContent-Encoding: br{key}", b"\x0b\x02\x80{}\x03", 400, None),
    "zstd": (JSON_POST + b"\r\nContent-Encoding: zstd{key}", b"(\xb5/\xfd{}", 400, None),
    "gzip-bomb": (JSON_POST + b"\r\nContent-Encoding: gzip{key}",
                  _gzip(b"{" + b" " * 5_000_000 + b"}"), 413, "PAYLOAD_TOO_LARGE"),
    "nested-1000-deep": (RUN_POST + b"{key}", DEEP, 413, "NESTING_TOO_DEEP"),
    "nested-past-orjson": (RUN_POST + b"{key}", b'{"p": ' + b"[" * 5000 + b"]" * 5000 + b"}", 413,
                           "NESTING_TOO_DEEP"),
    "number-out-of-range": (RUN_POST + b"{key}", b'{"priority": 1e999}', 400, "BAD_REQUEST"),
}  # fmt: skip


@pytest.mark.parametrize(("head", "body", "status", "code"), CASES.values(), ids=CASES.keys())
async def test_a_strangers_bytes_get_a_4xx_without_a_traceback(
    api: Api,
    caplog: pytest.LogCaptureFixture,
    head: bytes,
    body: bytes,
    status: int,
    code: str | None,
) -> None:
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    with caplog.at_level(logging.INFO):
        got, answer = await raw_request(api, head.replace(b"{key}", key_header(api)), body)
    assert got == status, answer
    if code is not None:
        assert answer["error"] == code, answer
        assert answer["message"]
    _no_tracebacks(caplog)


async def test_compressed_bodies_are_accepted(api: Api) -> None:
    spec = orjson.dumps(pipeline_spec("zipped"))
    for encoding, data in (("gzip", _gzip(spec)), ("deflate", zlib.compress(spec))):
        head = (
            b"POST /api/v1/validate HTTP/1.1\r\nContent-Type: application/json"
            b"\r\nContent-Encoding: " + encoding.encode() + key_header(api)
        )
        status, answer = await raw_request(api, head, data)
        assert status == 200 and answer["valid"], (encoding, answer)


@pytest.mark.parametrize(
    ("where", "doc"),
    [
        ("run parameters", lambda deep: {"parameters": {"p": deep}}),
        ("run metadata", lambda deep: {"metadata": {"m": deep}}),
    ],
)
async def test_nesting_past_the_limit_is_413_naming_it(api: Api, where: str, doc: Any) -> None:
    await api.client.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    deep: Any = "leaf"
    for _ in range(70):
        deep = {"k": deep}
    resp = await api.client.post(
        "/api/v1/workflows/pipeline/runs", json=doc(deep), headers=api.auth("operator")
    )
    answer = await resp.json()
    assert resp.status == 413, (where, answer)
    assert answer["error"] == "NESTING_TOO_DEEP" and answer["details"] == {"limit": 64}
    assert "max_json_depth" in answer["message"]
    shallow: Any = "leaf"
    for _ in range(50):
        shallow = {"k": shallow}
    ok = await api.client.post(
        "/api/v1/workflows/pipeline/runs", json=doc(shallow), headers=api.auth("operator")
    )
    assert ok.status == 201, await ok.text()


async def test_a_spec_with_deep_task_input_or_metadata_is_413(api: Api) -> None:
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    for spec in (
        pipeline_spec("a", metadata={"m": deep}),
        {**pipeline_spec("b"), "nodes": [{"id": "t", "type": "task", "handler": "h",
                                          "input": {"i": deep}}]},
    ):  # fmt: skip
        resp = await api.client.post("/api/v1/workflows", json=spec, headers=api.auth("admin"))
        assert resp.status == 413
        assert (await resp.json())["error"] == "NESTING_TOO_DEEP"


async def test_an_api_key_is_compared_exactly(api: Api) -> None:
    key = api.keys["admin"]
    ok, _ = await raw_request(api, b"GET /api/v1/whoami HTTP/1.1" + key_header(api))
    assert ok == 200
    # Python's str.strip() used to remove these; HTTP does not (only spaces and tabs).
    for before, after in [
        (b"", "\u00a0".encode()),
        ("\u3000".encode(), b""),
        (b"", "\u2028".encode()),
        (b"", b"\x1f"),
    ]:
        head = b"GET /api/v1/whoami HTTP/1.1\r\nX-API-Key: " + before + key.encode() + after
        status, answer = await raw_request(api, head)
        assert status in (400, 401), (before, after, answer)
    for variant in (key[:-1], key + "x", key.upper(), key.replace("dagq_", "DAGQ_")):
        resp = await api.client.get("/api/v1/whoami", headers={"X-API-Key": variant})
        assert resp.status == 401


async def test_an_unexpected_error_is_one_compact_line_and_a_json_500(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_local = api.keys["operator"]

    async def broken(run_id: str) -> dict[str, Any]:
        assert secret_local  # a local a rich traceback would have printed
        raise RuntimeError(f"bug while reading {run_id}")

    # A bug is simulated in the run service; the HTTP layer under test is real.
    monkeypatch.setattr(api.app[STATE].service, "view", broken)
    with caplog.at_level(logging.INFO):
        resp = await api.client.get("/api/v1/runs/r1", headers=api.auth("admin"))
    answer = await resp.json()
    rid = resp.headers["X-Request-Id"]
    assert resp.status == 500
    assert answer["error"] == "INTERNAL" and answer["details"] == {"requestId": rid}
    assert "bug while reading" not in answer["message"] and rid in answer["message"]
    [line] = [r for r in caplog.records if "api_unhandled" in r.getMessage()]
    text = line.getMessage()
    assert line.exc_info is None and "\n" not in text
    assert "RuntimeError: bug while reading r1" in text and "in broken" in text
    assert f"rid={rid}" in text and "/api/v1/runs/{runId}" in text
    assert secret_local not in text
