"""``dagq validate``, ``dagq export`` and ``dagq schema``: workflow files on the command line.

Exit codes of ``validate`` and ``export``: 0 all valid, 1 any invalid (a file that
does not parse is invalid, code PARSE), 2 usage errors or a missing/unreadable file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.exits import Exit, fail
from orchestrator.errors import DagqError
from orchestrator.spec.export import dump_spec
from orchestrator.spec.handlers import handler_issues
from orchestrator.spec.limits import judge_text
from orchestrator.spec.loader import Format, SpecIssue, read_document
from orchestrator.spec.model import WorkflowSpec
from orchestrator.spec.validator import ValidationResult

if TYPE_CHECKING:
    from orchestrator.settings import Settings

_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


class FileProblem(click.FileError):
    """A file that cannot be read or written: exit 2 like a usage error, not 1 (invalid)."""

    exit_code = 2


def _settings() -> Settings:
    """The deployment's settings, whose limits the API enforces (a broken config is exit 2)."""
    from orchestrator.settings import load_settings

    try:
        return load_settings()
    except DagqError as exc:
        fail(exc)


def _check_file(
    path: Path, settings: Settings, max_nodes: int | None
) -> tuple[ValidationResult, WorkflowSpec | None]:
    try:
        text = read_document(path)
    except DagqError as exc:
        if exc.code == "SPEC_INVALID":  # too large, not UTF-8: the file is invalid
            errors = tuple(SpecIssue(e["code"], e["message"]) for e in exc.details["errors"])
            return ValidationResult(errors), None
        raise FileProblem(str(path), hint=exc.message) from None
    return judge_text(text, str(path), settings, max_nodes=max_nodes)


def _offered(sources: tuple[str, ...]) -> list[str]:
    """The handler names the files or modules register (a usage error when one cannot load)."""
    from orchestrator.worker.registry import Registry

    registry = Registry()
    try:
        for source in sources:
            registry.load(source)
    except DagqError as exc:
        raise click.UsageError(exc.message) from None
    return registry.names()


def _with_handlers(
    result: ValidationResult, spec: WorkflowSpec | None, offered: list[str], by: str
) -> tuple[ValidationResult, WorkflowSpec | None]:
    if spec is None:
        return result, spec
    missing = handler_issues(spec, offered, by=by)
    return ValidationResult((*result.errors, *missing), result.warnings), spec


def _issue_line(mark: str, issue: SpecIssue) -> str:
    where = f" [{issue.node_id}]" if issue.node_id else ""
    hint = f" (suggestion: {issue.suggestion})" if issue.suggestion else ""
    return f"  {mark} {issue.code}{where} {issue.message}{hint}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(name: str, result: ValidationResult, spec: WorkflowSpec | None) -> list[str]:
    if result.valid and spec is not None:
        edges = _plural(len(spec.edges), "edge") if spec.edges else "no edges: runs in listed order"
        head = [f"✓ {name}: valid ({_plural(len(spec.nodes), 'node')}, {edges})"]
    else:
        counts = _plural(len(result.errors), "error")
        if result.warnings:
            counts += f", {_plural(len(result.warnings), 'warning')}"
        head = [f"✗ {name}: invalid ({counts})"]
    return (
        head
        + [_issue_line("✗", e) for e in result.errors]
        + [_issue_line("!", w) for w in result.warnings]
    )


@click.command()
@click.argument("files", nargs=-1, required=True, type=_FILE)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--max-nodes",
    type=click.IntRange(min=1),
    default=None,
    help="Largest workflow accepted (default: workflow.execution.max_nodes_per_workflow).",
)
@click.option(
    "--handlers",
    "-H",
    multiple=True,
    metavar="FILE_OR_MODULE",
    help="Also check every node's handler against the handlers this file or module "
    "registers (repeatable).",
)
def validate(
    files: tuple[Path, ...], as_json: bool, max_nodes: int | None, handlers: tuple[str, ...]
) -> None:
    """Validate workflow files (YAML or JSON); exit 1 when any is invalid.

    Judged as the API would: the graph rules and this deployment's resource limits
    (workflow.resource_limits in the config).

    With --json and one file, prints one result object
    {"valid", "errors", "warnings"}; with several, an object keyed by file name.
    """
    settings = _settings()
    offered = _offered(handlers) if handlers else None
    results = {str(path): _check_file(path, settings, max_nodes) for path in files}
    if offered is not None:
        by = f"handler of {', '.join(handlers)}"
        results = {
            name: _with_handlers(result, spec, offered, by)
            for name, (result, spec) in results.items()
        }
    if as_json:
        out: dict[str, Any] = {name: r.to_dict() for name, (r, _) in results.items()}
        payload = next(iter(out.values())) if len(out) == 1 else out
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for name, (result, spec) in results.items():
            click.echo("\n".join(_summary(name, result, spec)))
    if not all(result.valid for result, _ in results.values()):
        raise SystemExit(Exit.FAILED)


def _write_atomically(path: Path, text: str) -> None:
    # a half-written export must never replace a good file
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command()
@click.argument("file", type=_FILE)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default=None,
    help="Output format (default: from the -o suffix, else yaml).",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None
)
@click.option("--max-nodes", type=click.IntRange(min=1), default=None, help="Node limit.")
def export(file: Path, fmt: str | None, output: Path | None, max_nodes: int | None) -> None:
    """Write a workflow as clean snake_case YAML or JSON (to stdout, or -o FILE).

    The input must be valid; its errors are listed on stderr (exit 1) otherwise.
    """
    result, spec = _check_file(file, _settings(), max_nodes)
    if not result.valid or spec is None:
        click.echo("\n".join(_summary(str(file), result, spec)), err=True)
        raise SystemExit(Exit.FAILED)
    chosen: Format = "yaml"
    if fmt == "json" or (fmt is None and output is not None and output.suffix == ".json"):
        chosen = "json"
    text = dump_spec(spec, chosen)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        _write_atomically(output, text)
    except OSError as exc:
        raise FileProblem(str(output), hint=exc.strerror or str(exc)) from None
    click.echo(f"wrote {output}", err=True)


@click.command()
def schema() -> None:
    """Print the JSON Schema of a workflow specification (generated from the model)."""
    click.echo(json.dumps(WorkflowSpec.model_json_schema(by_alias=False), indent=2))
