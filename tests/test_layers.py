"""The house's floors: imports only go down.

``serve → app → orchestrator``; inside ``orchestrator/``, process assembly
(``runtime``) on top, then ``api``/``worker``, ``service``, ``store`` (and the
HTTP-free ``security``), the pure ``engine``, with spec, keys, errors, settings and
the wire formats on the ground floor.  The command line and the benchmarks stand
beside the house and may use any floor.  Read from the source (every ``import``,
including those inside functions), so a lazy import cannot hide a way up.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FLOORS: dict[str, int] = {
    # the ground floor: depended on by everything, depends on nothing above it
    "durations": 0, "errors": 0, "settings": 0, "keys": 0, "logs": 0, "protocol": 0,
    "spec": 0, "client": 0,
    "wire": 0, "vocab": 0, "scripts": 0, "sizes": 0, "stopping": 0,
    "engine": 1,
    "store": 2, "security": 2,
    "service": 3,
    "api": 4, "worker": 4,
    "runtime": 5,
    "bench": 6, "cli": 7,
}  # fmt: skip
TOP_LEVEL = {"orchestrator": 0, "app": 1, "serve": 2}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _package_of(path: Path, top: str) -> str:
    part = path.relative_to(ROOT / top).parts[0]
    return part.removesuffix(".py")


def _orchestrator_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in (ROOT / "orchestrator").rglob("*.py"):
        source = _package_of(path, "orchestrator")
        if source == "__init__":
            continue  # the package's public names (``from orchestrator import handler``)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "orchestrator" and len(parts) > 1 and parts[1] != source:
                edges[source].add(parts[1])
    return edges


def test_every_orchestrator_package_has_a_floor() -> None:
    packages = {
        _package_of(p, "orchestrator")
        for p in (ROOT / "orchestrator").rglob("*.py")
        if _package_of(p, "orchestrator") != "__init__"
    }
    assert packages <= set(FLOORS), f"give these a floor: {sorted(packages - set(FLOORS))}"


def test_orchestrator_imports_only_go_down() -> None:
    upward = [
        f"{source} (floor {FLOORS[source]}) imports {target} (floor {FLOORS[target]})"
        for source, targets in sorted(_orchestrator_edges().items())
        for target in sorted(targets)
        if FLOORS[target] > FLOORS[source] or (FLOORS[target] == FLOORS[source] > 0)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle_between_orchestrator_packages() -> None:
    edges = _orchestrator_edges()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycle = [*trail[trail.index(target) :], target] if target in trail else [target]
                raise AssertionError("import cycle: " + " → ".join([*cycle]))
            if target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for package in sorted(edges):
        if package not in state:
            visit(package, [package])


def test_serve_app_orchestrator_never_import_upwards() -> None:
    upward = []
    for top, floor in TOP_LEVEL.items():
        for path in (ROOT / top).rglob("*.py"):
            for name in _imports(path):
                head = name.split(".")[0]
                if TOP_LEVEL.get(head, -1) > floor:
                    upward.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("command", ["api", "worker", "orchestrator", "run", "up", "web", "tui"])
def test_the_benchmarks_stay_off_the_runtime_import_path(command: str) -> None:
    # What `dagq <command>` imports before it runs: the command table resolves lazily.
    probe = (
        "import sys; from serve.cli import SUB_COMMANDS, TOP_COMMANDS, build_cli;"
        "cli = build_cli(TOP_COMMANDS, sub=SUB_COMMANDS);"
        f"assert cli.get_command(None, {command!r}) is not None;"
        "print(sorted(m for m in sys.modules if m.startswith(('orchestrator.bench', 'app.bench',"
        " 'matplotlib', 'celery', 'rq'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
