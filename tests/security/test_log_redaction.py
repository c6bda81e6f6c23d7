"""``orchestrator.logs``: what a log line may never hold, and how errors are written."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog

from orchestrator import logs
from orchestrator.logs import (
    LOG_DIR_ENV,
    MASK,
    RedactingFilter,
    compact_exc_info,
    describe_exception,
    redact,
    redact_event,
    register_secret,
)

KEY = "dagq_AbCd_123_" + "s3cr3t-Part_of-the-key-XYZ0123456789abcdef"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    ("line", "kept", "gone"),
    [
        (f"key {KEY} refused", "dagq_AbCd_123_***", "s3cr3t"),
        (f"X-API-Key: {KEY}", "X-API-Key", "s3cr3t"),
        (f"cookie dagq_session={JWT}", "dagq_session=", "c2lnbmF0dXJl"),
        (f"Authorization: Bearer {JWT}", "Authorization", "eyJ"),
        ("Authorization: Basic YWRhOmh1bnRlcjI=", "Basic", "YWRhOmh1bnRlcjI"),
        ("connecting to redis://:hunter2@db:6379/0", "redis://:***@db:6379/0", "hunter2"),
        ("connecting to rediss://ada:hunter2@db/0", "rediss://ada:***@db/0", "hunter2"),
        ("password=hunter2 user=ada", "user=ada", "hunter2"),
        ('{"password": "hunter2", "user": "ada"}', '"user": "ada"', "hunter2"),
        ("jwt_secret: 0123456789abcdef0123", "jwt_secret", "0123456789abcdef"),
        ("api_key='hunter2'", "api_key=", "hunter2"),
    ],
)
def test_patterns_mask_secrets(
    line: str, kept: str, gone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The patterns alone: values other tests of this process registered (a password
    # "secret", say) would mask words of these lines too.
    monkeypatch.setattr(logs, "_secret_list", ())
    out = redact(line)
    assert gone not in out, out
    assert kept in out and MASK in out, out


@pytest.mark.parametrize(
    "line",
    ["token expired", "invalid API key", "GET /api/v1/workflows 200", "http://127.0.0.1:8080/x"],
)
def test_ordinary_lines_are_untouched(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_secret_list", ())
    assert redact(line) == line


def test_registered_secrets_are_masked_anywhere() -> None:
    register_secret("a-secret-with-no-shape-1")
    register_secret("pw")  # too short to search for: would mask every "pw"
    assert redact("x a-secret-with-no-shape-1y pw") == f"x {MASK}y pw"


def test_structlog_fields_named_like_secrets_are_blanked() -> None:
    event: dict[str, Any] = {
        "event": "login",
        "password": "hunter2",
        "api_key": KEY,
        "user": "ada",
        "url": "redis://:hunter2@h/0",
        "nested": {"token": "abc", "items": [KEY]},
        "count": 3,
    }
    out = redact_event(None, "info", event)
    assert out["password"] == MASK and out["api_key"] == MASK
    assert out["user"] == "ada" and out["count"] == 3
    assert out["url"] == "redis://:***@h/0"
    assert out["nested"] == {"token": MASK, "items": ["dagq_AbCd_123_***"]}


def _boom(key: str) -> None:
    secret_local = key  # a rich traceback with locals printed exactly this
    raise TypeError(f"cannot use {secret_local[:5]}")


def _record(exc_info: Any = None, msg: str = "failed %s", args: Any = ("x",)) -> logging.LogRecord:
    return logging.LogRecord("dagq.t", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_a_traceback_is_plain_frames_without_locals() -> None:
    try:
        _boom(KEY)
    except TypeError:
        record = _record(sys.exc_info())
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "TypeError: cannot use dagq_" in text and "in _boom" in text
    assert "s3cr3t" not in text and "secret_local = " not in text  # no locals listed


def test_the_message_is_rendered_and_masked_before_formatting() -> None:
    record = _record(msg="new key %s for %s", args=(KEY, "ada"))
    RedactingFilter().filter(record)
    assert record.getMessage() == "new key dagq_AbCd_123_*** for ada"


def test_a_malformed_http_request_is_one_info_line() -> None:
    from aiohttp.http_exceptions import InvalidURLError

    try:
        raise InvalidURLError("Invalid char in url path: b'GET /?token=abcdefgh'")
    except InvalidURLError:
        record = _record(sys.exc_info(), "Error handling request from %s", ("1.2.3.4",))
    RedactingFilter().filter(record)
    assert record.levelno == logging.INFO and record.exc_info is None and not record.exc_text
    assert "refused a malformed request: Invalid char in url path" in record.getMessage()
    assert "abcdefgh" not in record.getMessage()


def test_describe_exception_is_one_masked_line() -> None:
    try:
        raise ValueError(f"bad\nurl redis://:hunter2@h/0 key {KEY}")
    except ValueError as exc:
        text = describe_exception(exc)
    assert "\n" not in text and "hunter2" not in text and "s3cr3t" not in text
    assert text.startswith("ValueError: bad url redis://:***@h/0")
    assert "test_log_redaction.py" in text and "test_describe_exception_is_one_masked_line" in text


def test_structlog_exc_info_becomes_an_error_field() -> None:
    try:
        _boom(KEY)
    except TypeError:
        event = compact_exc_info(None, "error", {"event": "x", "exc_info": True})
    assert "exc_info" not in event
    assert event["error"].startswith("TypeError: cannot use dagq_")


CHILD = """
import logging, structlog
from orchestrator.logs import setup_logging
setup_logging("child")
structlog.get_logger("dagq.api").error("api_unhandled", password="hunter2", rid="r1")
logging.getLogger("dagq.x").info("url %s", "redis://u:hunter2@h/0")
def f(key):
    raise RuntimeError("boom")
f("KEY")
"""


def test_setup_logging_masks_both_kinds_and_writes_to_the_log_dir(tmp_path: Path) -> None:
    env = {**os.environ, LOG_DIR_ENV: str(tmp_path / "logs")}
    result = subprocess.run(
        [sys.executable, "-c", CHILD.replace("KEY", KEY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    [file] = (tmp_path / "logs").iterdir()
    assert file.name.startswith("child-") and file.read_text() == result.stderr
    err = result.stderr
    assert "event=api_unhandled password=*** rid=r1" in err
    assert "url redis://u:***@h/0" in err
    assert "CRITICAL dagq: uncaught exception" in err and "RuntimeError: boom" in err
    assert "hunter2" not in err and "s3cr3t" not in err


def test_ensure_structlog_keeps_an_existing_configuration() -> None:
    from orchestrator.logs import ensure_structlog

    before = structlog.get_config()["processors"]
    ensure_structlog()
    assert structlog.get_config()["processors"] == before
