"""The handler registry: decorating, loading files and modules, clear errors."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import HandlerContext, handler
from orchestrator.errors import ConfigError
from orchestrator.spec.model import HANDLER_PATTERN
from orchestrator.worker.registry import HANDLER_NAME, Registry, collect, default_registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "handlers.py"


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source))
    return path


def test_the_name_rule_matches_the_spec_model() -> None:
    assert HANDLER_NAME.pattern == HANDLER_PATTERN


def test_decorator_forms_and_the_default_registry() -> None:
    @handler("explicitName")
    def one(input: dict[str, Any], ctx: HandlerContext) -> None:
        return None

    @handler
    async def two(input: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {}

    @handler()
    def three(input: dict[str, Any], ctx: HandlerContext) -> None:
        return None

    found = collect({"a": one, "b": two, "c": three, "d": len})
    assert sorted(found) == ["explicitName", "three", "two"]
    entry = default_registry.get("two")
    assert entry is not None and entry.is_async and entry.fn is two
    assert one({}, HandlerContext(run_id="r", node_id="n", attempt=1)) is None  # still callable


def test_bad_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="invalid handler name"):
        handler("has space")
    with pytest.raises(ConfigError, match="non-empty"):
        handler("")(lambda i, c: None)


def test_loading_a_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "my_handlers.py",
        """
        from orchestrator import handler

        @handler("alpha")
        def a(input, ctx):
            return {"x": 1}

        @handler("beta")
        async def b(input, ctx):
            return None

        def not_a_handler(input, ctx):
            return None
    """,
    )
    registry = Registry()
    assert registry.load(str(path)) == ["alpha", "beta"]
    alpha, beta = registry.get("alpha"), registry.get("beta")
    assert alpha is not None and not alpha.is_async
    assert beta is not None and beta.is_async
    # Loading the same file again is harmless (same functions).
    assert registry.load(str(path)) == ["alpha", "beta"]
    assert registry.sources == [str(path), str(path)]


def test_loading_a_module_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = f"pkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    write(
        tmp_path / package / "handlers.py",
        """
        from orchestrator import handler

        @handler
        def gamma(input, ctx):
            return {}
    """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    assert registry.load(f"{package}.handlers") == ["gamma"]


def test_registries_do_not_leak_into_each_other(tmp_path: Path) -> None:
    first = write(
        tmp_path / "first.py",
        """
        from orchestrator import handler

        @handler("notify")
        def notify(input, ctx):
            return {"from": "first"}
    """,
    )
    second = write(
        tmp_path / "second.py",
        """
        from orchestrator import handler

        @handler("notify")
        def notify(input, ctx):
            return {"from": "second"}

        @handler("only_second")
        def other(input, ctx):
            return None
    """,
    )
    r1, r2 = Registry(), Registry()
    r1.load(str(first))
    r2.load(str(second))
    assert r1.names() == ["notify"]
    assert r2.names() == ["notify", "only_second"]
    ctx = HandlerContext(run_id="r", node_id="n", attempt=1)
    n1, n2 = r1.get("notify"), r2.get("notify")
    assert n1 is not None and n2 is not None
    assert n1.fn({}, ctx) == {"from": "first"}
    assert n2.fn({}, ctx) == {"from": "second"}
    # One registry refuses two different functions under one name.
    with pytest.raises(ConfigError, match="defined twice"):
        r1.load(str(second))


def _handlers_used(node: Any) -> set[str]:
    """Every ``handler:`` value anywhere in a loaded workflow document."""
    if isinstance(node, dict):
        found = {str(node["handler"])} if isinstance(node.get("handler"), str) else set()
        return found.union(*(_handlers_used(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_handlers_used(value) for value in node))
    return set()


def test_the_example_handlers_load_and_cover_every_example_workflow() -> None:
    registry = Registry()
    names = registry.load(str(EXAMPLES))
    assert names == sorted(set(names))
    used = set().union(
        *(_handlers_used(yaml.safe_load(p.read_text())) for p in EXAMPLES.parent.glob("*.yaml"))
    )
    assert {"fetchData", "chargePayment", "loadRecords", "checkRefund"} <= used  # all read
    assert used - set(names) == set(), "handlers an example uses but examples/handlers.py lacks"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(:\n    pass\n", "syntax error in handlers file"),
        ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
        ("import no_such_module_xyz\n", "no_such_module_xyz"),
        ("x = 1\n", "no handlers found"),
        (
            "from orchestrator import handler\n@handler('d')\ndef a(i, c): pass\n"
            "@handler('d')\ndef b(i, c): pass\n",
            "defined twice",
        ),
    ],
)
def test_broken_files_give_clear_errors(tmp_path: Path, source: str, message: str) -> None:
    path = tmp_path / f"broken_{uuid.uuid4().hex[:6]}.py"
    path.write_text(source)
    with pytest.raises(ConfigError, match=message):
        Registry().load(str(path))


def test_missing_file_and_module_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="handlers file not found"):
        Registry().load(str(tmp_path / "nope.py"))
    with pytest.raises(ConfigError, match="no module named 'no_such_pkg_abc'"):
        Registry().load("no_such_pkg_abc.handlers")
    with pytest.raises(ConfigError, match="empty --handlers"):
        Registry().load("  ")


def test_context_logger_tags_the_attempt(caplog: pytest.LogCaptureFixture) -> None:
    ctx = HandlerContext(run_id="r1", node_id="n1", attempt=2, handler="h")
    with caplog.at_level("INFO", logger="dagq.handlers.h"):
        ctx.logger.info("hello")
    [record] = caplog.records
    assert record.name == "dagq.handlers.h"
    assert (record.run_id, record.node_id, record.attempt) == ("r1", "n1", 2)  # type: ignore[attr-defined]
