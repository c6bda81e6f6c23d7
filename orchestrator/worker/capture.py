"""What a handler says while an attempt runs: its ``ctx.logger`` lines, its ``logging``
records and its ``print`` output, kept per attempt (bounded) for the run's logs.

The worker opens an :class:`AttemptLog` around each handler call (:func:`capturing`); a
context variable names it, so the lines of concurrent attempts never mix (async handlers
run in their own task, sync ones in a thread that gets a copy of the task's context).
Three sources feed it:

- ``ctx.logger`` (:class:`AttemptLogger`) hands each line to the attempt log whatever the
  process's log level (``dagq up`` logs warnings only), then logs it as before;
- other loggers' records reach :class:`CaptureHandler` on the root logger (so they follow
  the process's level);
- ``print`` goes through :class:`_Tee`, which wraps ``sys.stdout``/``sys.stderr``, keeps
  the text and still writes it through.

The lines leave the worker with the attempt's result (:meth:`AttemptLog.payload`): the same
path a handler run in a child process will take.  Every line is redacted like the process
logs (:func:`orchestrator.logs.redact`) before it is kept.

This module is imported by handler files (through ``registry``): no Redis, no aiohttp.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from typing import Any, TextIO

import orjson

MAX_LINES = 1000
"""Lines kept per attempt: the last ones (older lines are dropped and counted)."""
MAX_BYTES = 256 * 1024
"""Bytes of text kept per attempt, the last ones."""
MAX_LINE_CHARS = 4000
"""A longer line is cut and ends in ``…``."""
_CAPTURED = "dagq_captured"

_current: contextvars.ContextVar[AttemptLog | None] = contextvars.ContextVar(
    "dagq_attempt_log", default=None
)


def _now_ms() -> int:
    return int(time.time() * 1000)


class AttemptLog:
    """The last lines of one attempt (thread-safe: sync handlers log from threads)."""

    def __init__(self, *, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES) -> None:
        self.started_ms = _now_ms()
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self.lines: deque[tuple[int, str, str]] = deque()
        self.dropped = 0
        self._bytes = 0
        self._partial: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, level: str, text: str) -> None:
        """Keep one line (redacted, cut to :data:`MAX_LINE_CHARS`)."""
        from orchestrator.logs import redact  # structlog: only once a handler logs

        if len(text) > MAX_LINE_CHARS:
            text = text[: MAX_LINE_CHARS - 1] + "…"
        line = (_now_ms(), level, redact(text))
        with self._lock:
            self.lines.append(line)
            self._bytes += len(line[2])
            while self.lines and (len(self.lines) > self.max_lines or self._bytes > self.max_bytes):
                self._bytes -= len(self.lines.popleft()[2])
                self.dropped += 1

    def write(self, stream: str, text: str) -> None:
        """Printed text: whole lines are kept, a partial one waits for its end."""
        with self._lock:
            pending = self._partial.pop(stream, "") + text
        *whole, rest = pending.split("\n")
        for line in whole:
            self.add(stream, line.rstrip("\r"))
        if rest:
            with self._lock:
                self._partial[stream] = rest

    def absorb(self, lines: list[tuple[int, str, str]], dropped: int) -> None:
        """Keep lines another attempt log kept (a child process's), already redacted."""
        with self._lock:
            self.dropped += dropped
            for line in lines:
                self.lines.append(line)
                self._bytes += len(line[2])
            while self.lines and (len(self.lines) > self.max_lines or self._bytes > self.max_bytes):
                self._bytes -= len(self.lines.popleft()[2])
                self.dropped += 1

    def close(self) -> None:
        """Keep what was printed without a final newline."""
        with self._lock:
            partial, self._partial = self._partial, {}
        for stream, text in partial.items():
            self.add(stream, text)

    def payload(self, **fields: Any) -> bytes | None:
        """The attempt's record (``fields``: node, attempt, token...); None when it said
        nothing."""
        self.close()
        with self._lock:
            if not self.lines and not self.dropped:
                return None
            body = {
                **fields,
                "started": self.started_ms,
                "ended": _now_ms(),
                "dropped": self.dropped,
                "lines": [list(line) for line in self.lines],
            }
        return orjson.dumps(body)


def current() -> AttemptLog | None:
    """The attempt log of the handler running in this context, if any."""
    return _current.get()


@contextlib.contextmanager
def capturing(log: AttemptLog) -> Iterator[AttemptLog]:
    """Send what the handler says in this context (and copies of it) to ``log``."""
    install()
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


class AttemptLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """``ctx.logger``: tags records with run, node and attempt and keeps each line in the
    attempt's log, below the process's log level too."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        """Keep the line (INFO and above), then log it as any logger would."""
        sink = current()
        if sink is not None and level >= logging.INFO:
            try:
                text = str(msg) % args if args else str(msg)
            except (TypeError, ValueError):
                text = f"{msg!s} {args!r}"
            exc = kwargs.get("exc_info")
            if exc:
                text += "\n" + _exception_text(exc)
            sink.add(logging.getLevelName(level), text)
        super().log(level, msg, *args, **kwargs)


def _exception_text(exc_info: Any) -> str:
    if isinstance(exc_info, BaseException):
        exc: BaseException | None = exc_info
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    else:
        exc = sys.exc_info()[1]
    if exc is None:
        return ""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-10)
    return "".join(lines).rstrip()


def attempt_logger(name: str, extra: dict[str, Any]) -> AttemptLogger:
    """The logger a handler gets as ``ctx.logger``."""
    return AttemptLogger(logging.getLogger(name), {**extra, _CAPTURED: True})


class CaptureHandler(logging.Handler):
    """On the root logger: records logged while a handler runs go to its attempt log."""

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record`` when a handler's context logged it (``ctx.logger`` keeps its own)."""
        sink = current()
        if sink is None or getattr(record, _CAPTURED, False):
            return
        try:
            text = record.getMessage()
        except Exception:  # a wrong %-format must not lose the line
            text = f"{record.msg!s} {record.args!r}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + _exception_text(record.exc_info)
        sink.add(record.levelname, f"{record.name}: {text}")


class _Tee:
    """``sys.stdout``/``sys.stderr`` as before, plus a copy for the attempt that printed."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        sink = current()
        if sink is not None and text:
            sink.write(self._name, text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_install_lock = threading.Lock()


def install() -> None:
    """Put the capture handler on the root logger and the tees on stdout/stderr (again if
    something replaced them since, e.g. a TUI that redirects ``print``)."""
    with _install_lock:
        root = logging.getLogger()
        if not any(isinstance(h, CaptureHandler) for h in root.handlers):
            root.addHandler(CaptureHandler())
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, _Tee):
                setattr(sys, name, _Tee(stream, name))
