"""The engine's modules import one another without a circle (and without I/O libraries).

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a circle
held apart that way is still a circle to whoever reads the code.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "orchestrator" / "engine"


def _module(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_imports() -> dict[str, set[str]]:
    """Engine module -> the engine modules it imports (anywhere in its text)."""
    modules = {_module(p): p for p in ENGINE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    return graph


def test_no_import_circle_in_the_engine() -> None:
    graph = engine_imports()
    # A package's __init__ re-exporting its modules is not a circle through them.
    for name in graph:
        graph[name] = {d for d in graph[name] if not name.startswith(d + ".")}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None


def test_the_engine_stays_pure() -> None:
    impure = {"redis", "aiohttp", "asyncio", "time", "random", "textual"}
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                roots = {n.split(".")[0] for n in names}
                assert not roots & impure, f"{path.name} imports {roots & impure}"
