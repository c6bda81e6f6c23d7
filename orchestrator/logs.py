"""Logging of every dagq process: one setup, secrets kept out, errors compact, writes off the loop.

Every entry point (``dagq api``, ``worker``, ``orchestrator``, ``run``, ``web``, ``up``) calls
:func:`setup_logging` once.  It routes the standard library's records and structlog's events
through the same pipeline:

- :class:`RedactingFilter` rewrites each record before anything formats it: API keys
  (``dagq_<id>_<secret>`` keeps only its public id), JWTs, ``Bearer``/``Basic`` credentials,
  ``password=…``/``"token": …`` pairs, URL passwords (``redis://:pw@``, ``redis://u:pw@``) and
  every value given to :func:`register_secret` (the JWT secret, the web secret, Redis
  passwords) become ``***``.  structlog events get the same treatment from
  :func:`redact_event`, which also blanks any field whose *name* says it holds a secret.
- Exceptions are rendered as plain text without local variables (structlog's default
  console renderer prints rich tracebacks *with* locals: the issue that showed other
  users' keys in the log).  A malformed HTTP request, which aiohttp logs as an error with
  a traceback, becomes one INFO line: a stranger's bad bytes are not our bug.
- Records go through a :class:`~logging.handlers.QueueHandler` to a listener thread that
  does the writing, so a slow terminal or a full pipe never stalls an event loop.

``DAGQ_LOG_DIR`` (set by the test suite) makes each process also write its log to
``<dir>/<process>-<pid>.log``: the suite greps them for every secret it created.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import os
import queue
import re
import sys
import threading
import traceback
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import structlog

LOG_DIR_ENV = "DAGQ_LOG_DIR"
"""Environment variable naming a folder where every process also writes its log file."""
MASK = "***"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MIN_SECRET_CHARS = 6
"""Registered secrets shorter than this are not searched for (too many false hits); the
patterns still catch them where they appear as ``password=…`` or inside a URL."""
_MAX_MESSAGE_CHARS = 4000
_MAX_TRACEBACK_FRAMES = 20

_SENSITIVE_NAME = r"[\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization|cookie)[\w-]*"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A URL's userinfo password: redis://:pw@host, redis://user:pw@host.
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*):[^\s@'\"]*@"), rf"\1:{MASK}@"),
    # dagq API keys: the 8-character key id is public and useful; the rest is the secret.
    (re.compile(r"dagq_([A-Za-z0-9_-]{8})_[A-Za-z0-9_-]{8,}"), rf"dagq_\1_{MASK}"),
    # JWTs (session cookies, bearer tokens): header.payload.signature, header always "eyJ".
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), rf"\1\2{MASK}"),
    # name=value, name: value, "name": "value" for names that say they hold a secret.
    (
        re.compile(
            rf"(?i)\b({_SENSITIVE_NAME})([\"']?\s*[=:]\s*)([\"']?)"
            r"(?!(?:bearer|basic)\s)[^\s\"',;&})\]]+"  # the scheme's credentials are masked above
        ),
        rf"\1\2\3{MASK}",
    ),
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secret_list: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Never log ``value``: every later log line has it replaced by ``***``."""
    global _secret_list
    if not value or len(value) < MIN_SECRET_CHARS:
        return
    with _secrets_lock:
        if value not in _secrets:
            _secrets.add(value)
            # Longest first, so a secret containing another is masked whole.
            _secret_list = tuple(sorted(_secrets, key=len, reverse=True))


def redact(text: str) -> str:
    """``text`` with every secret it shows replaced by ``***``."""
    for secret in _secret_list:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _is_sensitive(name: str) -> bool:
    return re.fullmatch(_SENSITIVE_NAME, name, re.IGNORECASE) is not None


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth < 4 and isinstance(value, Mapping):
        return {
            k: MASK
            if isinstance(k, str) and _is_sensitive(k) and v
            else _redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if depth < 4 and isinstance(value, list | tuple):
        return [_redact_value(v, depth + 1) for v in value]
    return redact(_short(repr(value)))


def redact_event(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret-named fields and secrets inside every value."""
    for key, value in list(event_dict.items()):
        if _is_sensitive(key) and value:
            event_dict[key] = MASK
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


def _short(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 14] + f"... (+{len(text) - limit} chars)"


def describe_exception(exc: BaseException) -> str:
    """``TypeError: message (at module.py:12 in func)``: one line, no locals, secrets masked."""
    message = str(exc).replace("\n", " ").strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        code = tb.tb_frame.f_code
        where = "/".join(Path(code.co_filename).parts[-2:])
        text += f" (at {where}:{tb.tb_lineno} in {code.co_name})"
    return redact(_short(text, 1000))


def compact_exc_info(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``exc_info`` becomes an ``error`` field of one line, no traceback."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(exc_info, tuple) and isinstance(exc_info[1], BaseException):
            exc = exc_info[1]
        if exc is not None:
            event_dict.setdefault("error", describe_exception(exc))
    return event_dict


def _bad_http_request(exc: BaseException | None) -> BaseException | None:
    """The aiohttp 4xx parser error (bad request line, header, URL, a body that is not the
    gzip its header says) behind ``exc``, if that is what it is."""
    for _ in range(4):  # aiohttp wraps the parser's error once or twice
        if exc is None:
            return None
        status = getattr(exc, "code", None)
        if type(exc).__module__.startswith("aiohttp.") and isinstance(status, int):
            return exc if 400 <= status < 500 else None
        exc = exc.__cause__ or exc.__context__
    return None


class RedactingFilter(logging.Filter):
    """Rewrites a record in place: message and traceback rendered, secrets masked.

    Put it on handlers (a filter on the root *logger* never sees records of child loggers).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's secrets; always keeps the record."""
        try:
            message = record.getMessage()
        except Exception:  # a wrong %-format must not lose the line
            message = f"{record.msg!s} {record.args!r}"
        bad = _bad_http_request(record.exc_info[1] if record.exc_info else None)
        if bad is not None:
            reason = getattr(bad, "message", "") or str(bad)
            message = f"{message}: refused a malformed request: {' '.join(str(reason).split())}"
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg, record.args = redact(_short(message)), None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(_format_traceback(record.exc_info[1]))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _format_traceback(exc: BaseException) -> str:
    # Plain frames, never locals; the innermost frames are the useful ones.
    lines = traceback.format_exception(
        type(exc), exc, exc.__traceback__, limit=-_MAX_TRACEBACK_FRAMES
    )
    return _short("".join(lines).rstrip(), 20_000)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (it may be swapped, e.g. by click)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_state: dict[str, Any] = {}


def redacting(handler: logging.Handler) -> logging.Handler:
    """``handler`` with dagq's line format and the :class:`RedactingFilter`."""
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    return handler


def _sinks(process: str, stream: TextIO | None) -> list[logging.Handler]:
    sinks: list[logging.Handler] = [
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    ]
    log_dir = os.environ.get(LOG_DIR_ENV)
    if log_dir:
        try:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            sinks.append(logging.FileHandler(Path(log_dir) / f"{process}-{os.getpid()}.log"))
        except OSError as exc:
            print(f"dagq: cannot write logs to {log_dir}: {exc}", file=sys.stderr)  # noqa: T201
    return [redacting(sink) for sink in sinks]


def configure_structlog() -> None:
    """structlog events: merged context, masked secrets, compact errors, one logfmt line
    handed to the standard library logger of the same name (so the same handlers apply)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            compact_exc_info,
            redact_event,
            structlog.processors.LogfmtRenderer(key_order=["event"], bool_as_flag=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def ensure_structlog() -> None:
    """Configure structlog as :func:`configure_structlog` does unless something already did
    (an embedding application, or :func:`setup_logging`)."""
    if not structlog.is_configured():
        configure_structlog()


def setup_logging(process: str, *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Log to stderr (stdout stays free for command output) through the redacting pipeline.

    Idempotent: a second call replaces what the first installed and nothing else (a test
    runner's own handlers stay).
    """
    stop_logging()
    sinks = _sinks(process, stream)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    front = logging.handlers.QueueHandler(records)
    # Masking happens before the record is formatted and queued: the queue only ever holds
    # masked text.  Writing happens in the listener's thread.
    front.addFilter(RedactingFilter())
    listener = logging.handlers.QueueListener(records, *sinks, respect_handler_level=True)
    listener.start()
    root = logging.getLogger()
    root.addHandler(front)
    root.setLevel(level)
    _state.update(front=front, listener=listener, sinks=sinks)
    configure_structlog()
    _install_excepthook()
    if not _state.get("atexit"):
        atexit.register(stop_logging)
        _state["atexit"] = True


def after_fork_in_child() -> None:
    """In a forked child (an isolated handler's process): the listener thread did not
    survive the fork, so records go to the sinks directly, masked as before."""
    front = _state.pop("front", None)
    _state.pop("listener", None)
    if front is None:
        return
    root = logging.getLogger()
    root.removeHandler(front)
    for sink in _state.get("sinks", []):
        sink.addFilter(RedactingFilter())
        root.addHandler(sink)


def stop_logging() -> None:
    """Flush and remove what :func:`setup_logging` installed (called at exit)."""
    front = _state.pop("front", None)
    listener = _state.pop("listener", None)
    if front is not None:
        logging.getLogger().removeHandler(front)
    if listener is not None:
        listener.stop()
    for sink in _state.pop("sinks", []):
        sink.close()


def _install_excepthook() -> None:
    """An uncaught exception is logged (masked, no locals) instead of printed raw."""
    if getattr(sys.excepthook, "_dagq", False):
        return

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        logging.getLogger("dagq").critical("uncaught exception", exc_info=(kind, exc, tb))
        stop_logging()

    hook._dagq = True  # type: ignore[attr-defined]
    sys.excepthook = hook
