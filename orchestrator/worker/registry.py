"""Handlers: plain callables that workers run, and the registry that finds them.

A handler is ``fn(input: dict, ctx: HandlerContext) -> dict | None``, sync or
async, registered with ``@handler("name")`` (or bare ``@handler``: the name is the
function's).  The decorator records into :data:`default_registry` and marks the
function, so :meth:`Registry.load` can collect exactly the handlers a file or a
module defines without sharing state between registries.

This module is imported by user handler files (``from orchestrator import
handler``): keep it free of Redis, aiohttp and Textual imports.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar, overload

from orchestrator.errors import ConfigError
from orchestrator.worker.capture import attempt_logger

HandlerResult = dict[str, Any] | None
HandlerFn = Callable[..., HandlerResult | Awaitable[HandlerResult]]
F = TypeVar("F", bound=Callable[..., Any])

# Kept equal to orchestrator.spec.model.HANDLER_PATTERN (a test checks it): the
# name becomes part of a Redis key, and importing the spec model here would pull
# pydantic into every user's handler file.
HANDLER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
MAX_HANDLER_NAME = 128
_MARK = "__dagq_handler__"
_ISOLATION_MARK = "__dagq_isolation__"
Isolation = Literal["thread", "process"]
ISOLATIONS: tuple[Isolation, ...] = ("thread", "process")


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What a handler knows about the attempt it is running."""

    run_id: str
    node_id: str
    attempt: int
    """1 for the first try, 2 for the first retry..."""
    params: dict[str, Any] = field(default_factory=dict)
    """The run's parameters."""
    workflow_id: str = ""
    kind: Literal["task", "compensation"] = "task"
    worker_id: str = ""
    handler: str = ""
    timeout_s: float = 300.0
    """The attempt's timeout; the worker reports a timeout when it is exceeded."""
    token: str = ""
    """The attempt's lease token, ``<epoch>.<attempt>``: the epoch grows with each retry of
    the run, the attempt with each retry of the node."""
    logical_time: str | None = None
    """For a run started by a schedule or a backfill: its fire time (ISO 8601, UTC), the
    moment the run stands for (a nightly report's day); None for other runs."""

    @property
    def idempotency_key(self) -> str:
        """``<run_id>:<node_id>:<token>``: stable for one attempt, new for every retry.

        A worker that dies after the handler's side effect but before its result is
        recorded gets the job redelivered (at least once): the redelivery carries the same
        key, so pass it to the service you call (a payment provider's ``Idempotency-Key``
        header, a unique column) and the second call changes nothing.  A retry after a
        failure, or a retry of the run, is a new attempt with a new key.
        """
        return f"{self.run_id}:{self.node_id}:{self.token or self.attempt}"

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger named after the handler that tags records with run, node and attempt.

        Its lines (INFO and above) are also kept with the attempt: ``dagq runs logs``, the
        API's node logs and the monitor's node panel show them.
        """
        return attempt_logger(
            f"dagq.handlers.{self.handler or 'anonymous'}",
            {"run_id": self.run_id, "node_id": self.node_id, "attempt": self.attempt},
        )


@dataclass(frozen=True, slots=True)
class HandlerEntry:
    """A registered handler and how to call it."""

    name: str
    fn: HandlerFn
    is_async: bool
    isolation: Isolation | None = None
    """``process``: always run in a child process; None: as the worker runs handlers."""


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    # A callable object with ``async def __call__``.
    call = getattr(fn, "__call__", None)  # noqa: B004 - we want the method itself
    return call is not None and inspect.iscoroutinefunction(call)


def check_handler_name(name: object) -> str:
    """Return ``name`` if it is a valid handler name, else raise :class:`ConfigError`."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a handler name must be a non-empty string, got {name!r}")
    if len(name) > MAX_HANDLER_NAME or not HANDLER_NAME.match(name):
        raise ConfigError(
            f"invalid handler name {name!r}: use letters, digits, '_', '.', ':' or '-', "
            f"starting with a letter or '_', at most {MAX_HANDLER_NAME} characters"
        )
    return name


class Registry:
    """Handler name -> callable."""

    def __init__(self) -> None:
        self._entries: dict[str, HandlerEntry] = {}
        self.sources: list[str] = []
        """The specs :meth:`load` read, in order."""

    def register(
        self,
        name: str,
        fn: HandlerFn,
        *,
        replace: bool = False,
        isolation: Isolation | None = None,
    ) -> HandlerEntry:
        """Add ``fn`` under ``name``; a different callable under a taken name is an
        error unless ``replace`` is true.  ``isolation`` overrides the decorator's."""
        check_handler_name(name)
        if not callable(fn):
            raise ConfigError(f"handler {name!r} is not callable: {fn!r}")
        existing = self._entries.get(name)
        if existing is not None and existing.fn is not fn and not replace:
            raise ConfigError(
                f"handler {name!r} is defined twice: by {_describe(existing.fn)} "
                f"and by {_describe(fn)}"
            )
        if isolation is None:
            isolation = getattr(fn, _ISOLATION_MARK, None)
        elif isolation not in ISOLATIONS:
            raise ConfigError(f"isolation must be one of {', '.join(ISOLATIONS)}")
        entry = HandlerEntry(name=name, fn=fn, is_async=_is_async(fn), isolation=isolation)
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> HandlerEntry | None:
        """The handler called ``name``, if registered."""
        return self._entries.get(name)

    def names(self) -> list[str]:
        """Registered handler names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[HandlerEntry]:
        return iter(self._entries.values())

    def update(self, other: Registry) -> None:
        """Add every handler of ``other`` (the same duplicate rule as :meth:`register`)."""
        for entry in other:
            self.register(entry.name, entry.fn, isolation=entry.isolation)

    def load(self, spec: str) -> list[str]:
        """Import a handler file (``examples/handlers.py``) or module (``mypkg.handlers``).

        Adds the ``@handler`` functions found in the module's namespace and returns
        their names.  Raises :class:`ConfigError` when the file or module cannot be
        imported or defines no handler.
        """
        module = import_handlers(spec)
        found = collect(module)
        if not found:
            raise ConfigError(
                f"no handlers found in {spec!r}: decorate functions with "
                "@handler('name') (from orchestrator import handler)"
            )
        for name, fn in found.items():
            self.register(name, fn)
        self.sources.append(spec)
        return sorted(found)


def _describe(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", "?")
    qualname = getattr(fn, "__qualname__", repr(fn))
    return f"{module}.{qualname}"


def collect(module: ModuleType | Mapping[str, Any]) -> dict[str, HandlerFn]:
    """The ``@handler``-marked callables in a module's namespace, by handler name."""
    namespace = vars(module) if isinstance(module, ModuleType) else module
    found: dict[str, HandlerFn] = {}
    for value in list(namespace.values()):
        name = getattr(value, _MARK, None) if callable(value) else None
        if isinstance(name, str):
            other = found.get(name)
            if other is not None and other is not value:
                raise ConfigError(
                    f"handler {name!r} is defined twice: by {_describe(other)} "
                    f"and by {_describe(value)}"
                )
            found[name] = value
    return found


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec or Path(spec).is_file()


def import_handlers(spec: str) -> ModuleType:
    """Import ``spec`` as a file path or a dotted module name; errors are :class:`ConfigError`."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty --handlers value: give a Python file or a module name")
    if _looks_like_path(spec):
        return _import_file(Path(spec))
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        if exc.name and spec.startswith(exc.name):
            raise ConfigError(
                f"cannot import handlers {spec!r}: no module named {exc.name!r} "
                "(give a file path such as handlers.py, or an importable module)"
            ) from None
        raise ConfigError(f"cannot import handlers {spec!r}: {exc}") from None
    except Exception as exc:
        raise ConfigError(
            f"importing handlers {spec!r} failed: {type(exc).__name__}: {exc}"
        ) from None


def _import_file(path: Path) -> ModuleType:
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(f"handlers file not found: {path}")
    resolved = path.resolve()
    # One module per file, named after its absolute path: loading the same file
    # twice reuses it (its functions stay identical), two files never clash.
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", resolved.stem)
    module_name = f"dagq_handlers_{stem}_{digest}"
    cached = sys.modules.get(module_name)
    if cached is not None:
        return cached
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    # Handler files commonly import their neighbours (``from helpers import x``),
    # as they would when run as a script: let them.
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.append(folder)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise ConfigError(
            f"syntax error in handlers file {path} line {exc.lineno}: {exc.msg}"
        ) from None
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ConfigError(
            f"importing handlers file {path} failed: {type(exc).__name__}: {exc}"
        ) from None
    return module


default_registry = Registry()
"""Every handler decorated in this process, whatever module defined it."""


@overload
def handler(name: F, /) -> F: ...
@overload
def handler(
    name: str | None = None, /, *, isolation: Isolation | None = None
) -> Callable[[F], F]: ...
def handler(
    name: str | F | None = None, /, *, isolation: Isolation | None = None
) -> F | Callable[[F], F]:
    """Register a function as a handler: ``@handler("fetchData")`` or bare ``@handler``.

    The name defaults to the function's name.  The function is returned unchanged
    (so it stays callable and testable on its own) and marked for :meth:`Registry.load`.
    ``isolation="process"`` runs it in a child process of the worker, under hard limits
    (memory, CPU, open files) and killed at its timeout, whatever the worker's own mode.
    """
    if callable(name):
        return _mark(name, getattr(name, "__name__", ""), None)
    if name is not None:
        check_handler_name(name)  # fail at the decorator line, not later
    if isolation is not None and isolation not in ISOLATIONS:
        raise ConfigError(f"isolation must be one of {', '.join(ISOLATIONS)}, got {isolation!r}")

    def decorate(fn: F) -> F:
        return _mark(fn, name if name is not None else getattr(fn, "__name__", ""), isolation)

    return decorate


def _mark(fn: F, name: str, isolation: Isolation | None) -> F:
    check_handler_name(name)
    if not callable(fn):
        raise ConfigError(f"@handler({name!r}) must decorate a function, got {fn!r}")
    try:
        setattr(fn, _MARK, name)
        if isolation is not None:
            setattr(fn, _ISOLATION_MARK, isolation)
    except (AttributeError, TypeError):
        raise ConfigError(
            f"@handler({name!r}) cannot mark {fn!r}; decorate a function or a class instance"
        ) from None
    # The process-wide registry keeps the latest definition: two handler files may
    # both define "notify" and each is loaded into its own Registry without conflict.
    default_registry.register(name, fn, replace=True)
    return fn
